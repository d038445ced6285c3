"""Image checks on pyiqa's ResultsCalibra pairs: PSNR, MATLAB SSIM, LPIPS against the `lpips` package, and the
learned pyiqa metrics against pyiqa's published scores. Each metric is computed through its vrbench metric object
(the same `compute` a benchmark run uses), one image pair at a time (the images are 512x384)."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from vrbench.calibrate.suite import Context, Row, compare, unavailable
from vrbench.errors import InputError, MetricUnavailable

# vrbench metric id -> row name in pyiqa's calibration_summary.csv
PYIQA_ROWS = {"niqe": "niqe", "dists": "dists", "musiq": "musiq", "laion-aes": "laion_aes"}
PUBLISHED = "pyiqa 0.1.16 (calibration_summary.csv)"


def _pairs(ctx: Context, metric: str, reference: str) -> tuple[object | None, list[Row]]:
    try:
        return ctx.calibra(), []
    except InputError as e:
        return None, [unavailable(metric, reference, str(e))]


def _tensor(image, device: str):
    from vrbench.metrics.engine import to_tensor

    return to_tensor(image[None], device)


def _scores(metric, cal, device: str) -> list[float]:
    import torch

    with torch.inference_mode():
        return [float(metric.compute(_tensor(d, device), _tensor(r, device)).reshape(-1)[0])
                for d, r in zip(cal.dist, cal.ref, strict=True)]


def check_psnr(ctx: Context) -> list[Row]:
    """psnr-rgb against skimage's `peak_signal_noise_ratio` (run here) and the published official values."""
    from skimage.metrics import peak_signal_noise_ratio

    from vrbench.registry import METRICS

    cal, rows = _pairs(ctx, "psnr-rgb", "skimage")
    if cal is None:
        return rows
    ours = _scores(METRICS.create("psnr-rgb"), cal, ctx.device)
    for name, v, d, r in zip(cal.names, ours, cal.dist, cal.ref, strict=True):
        rows.append(compare("psnr-rgb", name, "skimage", v, peak_signal_noise_ratio(r, d, data_range=255)))
    for name, v in zip(cal.names, ours, strict=True):
        rows.append(compare("psnr-rgb", name, "pyiqa results_official.csv", v, cal.official["psnr"][name]))
    return rows


def check_ssim_matlab(ctx: Context) -> list[Row]:
    """ssim-matlab against the MATLAB `ssim.m` values of results_official.csv (4 decimals)."""
    from vrbench.registry import METRICS

    ref = "MATLAB ssim.m (results_official.csv)"
    cal, rows = _pairs(ctx, "ssim-matlab", ref)
    if cal is None:
        return rows
    ours = _scores(METRICS.create("ssim-matlab"), cal, ctx.device)
    return [compare("ssim-matlab", n, ref, v, cal.official["ssim"][n]) for n, v in zip(cal.names, ours, strict=True)]


def check_pyiqa_published(metric: str, ctx: Context) -> list[Row]:
    """A learned pyiqa metric (real weights needed) against pyiqa's published scores of the same images."""
    from vrbench.metrics.engine import build_metrics

    cal, rows = _pairs(ctx, metric, PUBLISHED)
    if cal is None:
        return rows
    try:
        built = build_metrics([metric], ctx.device)
    except (KeyError, LookupError) as e:  # a metric id this installation does not register
        return [unavailable(metric, PUBLISHED, f"no metric '{metric}' here ({e})")]
    if metric in built.unavailable:
        return [unavailable(metric, PUBLISHED, _reason(metric, built.unavailable[metric]))]
    ours = _scores(built.ready[metric], cal, ctx.device)
    table = cal.pyiqa[PYIQA_ROWS[metric]]
    return [compare(metric, n, PUBLISHED, v, table[n]) for n, v in zip(cal.names, ours, strict=True)]


def _reason(metric: str, e: MetricUnavailable) -> str:
    from vrbench.registry import METRICS

    missing = [w.name for w in METRICS.card(metric).weights if not w.present()]
    return e.reason + (f": {', '.join(missing)} (see `vrbench weights status`)" if missing else "")


@contextlib.contextmanager
def _hub_dir(path: Path) -> Iterator[None]:
    """torch.hub's cache pointed at `path` for the duration (the user's own cache is never written to)."""
    import torch.hub

    # Restore what was there, not what get_dir() returned: set_dir(get_dir()) would pin the hub for the rest of the
    # process, so a later $TORCH_HOME (e.g. the bench's temporary hub of stand-in weights) would be ignored. torch has
    # no public way to unset it; `_hub_dir` None means "follow $TORCH_HOME".
    before = getattr(torch.hub, "_hub_dir", None)
    torch.hub.set_dir(str(path))
    try:
        yield
    finally:
        torch.hub._hub_dir = before


def _lpips_pair(real_trunk: bool):
    """(vrbench's LPIPS metric, the official `lpips.LPIPS`) with the same heads and the same AlexNet trunk.

    Heads: the LPIPS v0.1 linear layers inside the `lpips` wheel (the bytes pyiqa downloads, sha256-checked).
    Trunk: torchvision's ImageNet AlexNet when it is present and verified, else one random AlexNet (seed 0) loaded
    into both networks, which still tests every operation but not the published numbers.
    """
    import lpips
    import torch
    import torchvision
    from pyiqa.archs.lpips_arch import LPIPS

    from vrbench.metrics.learned import ALEXNET, LPIPS_ALEX_SHA256, LpipsMetric
    from vrbench.registry import METRICS

    heads = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    if hashlib.sha256(heads.read_bytes()).hexdigest() != LPIPS_ALEX_SHA256:
        raise MetricUnavailable("lpips-alex", f"the lpips package's heads are not the published file: {heads}")
    if real_trunk:
        trunk = torch.load(ALEXNET.path, map_location="cpu", weights_only=True)
    else:
        torch.manual_seed(0)
        trunk = torchvision.models.alexnet().state_dict()
    with tempfile.TemporaryDirectory(prefix="vrbench-lpips-") as tmp:
        (Path(tmp) / "checkpoints").mkdir()
        torch.save(trunk, Path(tmp) / "checkpoints" / ALEXNET.name)
        with _hub_dir(Path(tmp)):  # pyiqa's AlexNet always loads torchvision's ImageNet file from the hub cache
            net = LPIPS(pretrained=False, net="alex", version="0.1").eval()
    missing = net.load_state_dict(torch.load(heads, map_location="cpu", weights_only=True), strict=False).missing_keys
    if any(k.startswith(f"lin{i}.") for k in missing for i in range(5)):  # `lins.*` alias the same tensors
        raise MetricUnavailable("lpips-alex", f"{heads} does not hold every LPIPS head: missing {missing[:3]}")
    with warnings.catch_warnings():  # lpips 0.1.4 calls torchvision's deprecated `pretrained=` argument
        warnings.simplefilter("ignore", UserWarning)
        official = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False).eval()
    official.net.load_state_dict(net.net.state_dict())
    ours: LpipsMetric = METRICS.create("lpips-alex")
    ours.model = SimpleNamespace(net=net)
    return ours, official


def _verified(weights) -> bool:
    from vrbench.weights import UnsafeWeights, digest

    if not weights.present():
        return False
    try:
        digest(weights)
    except (InputError, UnsafeWeights):
        return False
    return True


def check_lpips(ctx: Context) -> list[Row]:
    """lpips-alex against the official `lpips` package on identical weights; with the real ImageNet trunk also
    against the published official values."""
    import torch

    from vrbench.metrics.learned import ALEXNET

    cal, rows = _pairs(ctx, "lpips-alex", "lpips 0.1.4")
    if cal is None:
        return rows
    try:
        import lpips  # noqa: F401
    except ImportError:
        return [unavailable("lpips-alex", "lpips 0.1.4", "the official `lpips` package is not installed "
                                                        "(pip install lpips)")]
    real = _verified(ALEXNET)
    try:
        ours, official = _lpips_pair(real)
    except MetricUnavailable as e:
        return [unavailable("lpips-alex", "lpips 0.1.4", e.reason)]
    note = "" if real else "random AlexNet trunk (seed 0) in both: the ImageNet trunk is not here"
    values = _scores(ours, cal, "cpu")
    with torch.inference_mode():
        for name, v, d, r in zip(cal.names, values, cal.dist, cal.ref, strict=True):
            ref = float(official(_tensor(d, "cpu"), _tensor(r, "cpu"), normalize=True).reshape(-1)[0])
            rows.append(compare("lpips-alex", name, "lpips 0.1.4", v, ref, note))
    if real:
        rows += [compare("lpips-alex", n, "official (results_official.csv)", v, cal.official["lpips"][n])
                 for n, v in zip(cal.names, values, strict=True)]
    return rows
