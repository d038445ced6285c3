"""Learned image-quality metrics through pyiqa, the implementation the papers used; its version is recorded.

Every metric declares the weight files it needs. They are checked before pyiqa is asked to build the network,
so that offline a missing file becomes an "unavailable" entry with the file, its doors and the exact path to put
it at, instead of a download attempt and a traceback. Where pyiqa itself would read a file from a hidden cache
(NIQE's MAT parameters, CLIP's own download folder), the network is given the file from our cache path instead.
pyiqa is PolyForm Noncommercial: see the README.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from typing import Any

from vrbench.errors import MetricUnavailable
from vrbench.metrics.base import Metric, MetricCard, check_ready
from vrbench.registry import METRICS
from vrbench.weights import PypiSource, WeightFile, digest, source

PYIQA_HF = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/"
TV = "https://download.pytorch.org/models/"


def _pyiqa(name: str, prefix: str = "", sha256: str = "", signature: tuple = (), pypi: tuple = ()) -> WeightFile:
    return WeightFile(name, PYIQA_HF + name, "pyiqa", sha256=sha256, sha256_prefix=prefix, signature=signature,
                      pypi=pypi)


# Full digests: the same bytes ship as lpips/weights/v0.1/{alex,vgg}.pth in the `lpips` 0.1.4 wheel
# (richzhang/PerceptualSimilarity) and as DISTS_pytorch/weights.pt in the `DISTS-pytorch` 0.1 wheel (dingkeyan93/DISTS);
# their digests start with the prefixes pyiqa's file names carry, so those wheels are doors to pyiqa's files. The
# ImageNet trunks (torchvision alexnet/vgg16) ship in no package: LPIPS and DISTS still need download.pytorch.org.
# torchvision publishes only 8-digit prefixes, and pyiqa's MUSIQ, MANIQA and LAION head files none: those are
# recognised by the tensors of their networks (`signature`).
LPIPS_ALEX_SHA256 = "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0"
LPIPS_VGG_SHA256 = "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"
DISTS_SHA256 = "f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218"
# NIQE's pristine-image model (Mittal et al., IEEE SPL 2013): MATLAB's modelparameters.mat as BasicSR 1.4.2 ships it,
# converted to float64 arrays (mu_pris_param 1x36, cov_pris_param 36x36), in its GitHub tree and its PyPI sdist.
NIQE_BLOCK = 96  # pyiqa's NIQE: features of 96x96 blocks (the frame is cropped to whole blocks)
NIQE_NPZ_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
NIQE_PARAMS = WeightFile(
    "niqe_pris_params.npz", "https://github.com/XPixelGroup/BasicSR/raw/v1.4.2/basicsr/metrics/niqe_pris_params.npz",
    "basicsr", sha256=NIQE_NPZ_SHA256, pypi=(PypiSource("basicsr", "1.4.2", "basicsr/metrics/niqe_pris_params.npz",
                                                       sdist=True),))
NO_PYPI = "the ImageNet trunk ships in no PyPI package: only download.pytorch.org has it"
ALEXNET = WeightFile("alexnet-owt-7be5be79.pth", TV + "alexnet-owt-7be5be79.pth", "checkpoints",
                     sha256_prefix="7be5be79", note=NO_PYPI,
                     signature=(("features.0.weight", (64, 3, 11, 11)), ("features.10.weight", (256, 256, 3, 3)),
                                ("classifier.6.weight", (1000, 4096))))
VGG16 = WeightFile("vgg16-397923af.pth", TV + "vgg16-397923af.pth", "checkpoints", sha256_prefix="397923af",
                   note=NO_PYPI, signature=(("features.0.weight", (64, 3, 3, 3)),
                                            ("features.28.weight", (512, 512, 3, 3)),
                                            ("classifier.6.weight", (1000, 4096))))
LPIPS_ALEX = _pyiqa("LPIPS_v0.1_alex-df73285e.pth", "df73285e", LPIPS_ALEX_SHA256,
                    pypi=(PypiSource("lpips", "0.1.4", "lpips/weights/v0.1/alex.pth"),))
LPIPS_VGG = _pyiqa("LPIPS_v0.1_vgg-a78928a0.pth", "a78928a0", LPIPS_VGG_SHA256,
                   pypi=(PypiSource("lpips", "0.1.4", "lpips/weights/v0.1/vgg.pth"),))
DISTS_HEAD = _pyiqa("DISTS_weights-f5e65c96.pth", "f5e65c96", DISTS_SHA256,
                    pypi=(PypiSource("DISTS-pytorch", "0.1", "DISTS_pytorch/weights.pt"),))
CLIP_URL = "https://openaipublic.azureedge.net/clip/models/"
CLIP_RN50 = WeightFile("RN50.pt", CLIP_URL + "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762/RN50.pt",
                       "clip", sha256="afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762")
CLIP_VIT_L14 = WeightFile(
    "ViT-L-14.pt", CLIP_URL + "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
    "clip", sha256="b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836")
# The LAION aesthetic head (christophschuhmann/improved-aesthetic-predictor, as pyiqa mirrors it): an MLP
# 768-1024-128-64-16-1 on the unit-normalised CLIP ViT-L/14 image embedding. Kept under its own name (pyiqa's cache
# holds it URL-encoded, sac%2Blogos%2B..., and is never read for it).
LAION_HEAD = WeightFile("sac+logos+ava1-l14-linearMSE.pth", PYIQA_HF + "sac%2Blogos%2Bava1-l14-linearMSE.pth", "pyiqa",
                        signature=(("layers.0.weight", (1024, 768)), ("layers.2.weight", (128, 1024)),
                                   ("layers.7.weight", (1, 16))))


# On a CPU DISTS's VGG16 runs faster called frame by frame than on a batch (2-core CPU, 256x256, one batched call
# vs per-frame calls: 0.66x), so there it takes one frame at a time, as the per-frame scripts do; LPIPS gains from
# batching (1.20x) and on a GPU every network takes the chunk as one batch. Values agree to float rounding either
# way. (MUSIQ and NIQE have forward passes of their own: `vrbench.metrics.musiq`, `vrbench.metrics.niqe`.)
CPU_FRAME_BY_FRAME = frozenset({"dists"})


def by_frame(fn: Any, x: Any, enabled: bool) -> Any:
    """`fn(x)` on a batch, or frame by frame on a CPU when `enabled`, joined back into what `fn` returns (a tensor
    or a list of tensors, e.g. feature levels)."""
    import torch

    if not enabled or x.device.type != "cpu" or len(x) <= 1:
        return fn(x)
    parts = [fn(x[i : i + 1]) for i in range(len(x))]
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(parts)
    return [torch.cat(level) for level in zip(*parts, strict=True)]


def cpu_channels_last(x: Any) -> Any:
    """On a CPU, a (N, C, H, W) batch in channels-last memory: oneDNN then runs every convolution of the trunk
    without reordering its input and output (VGG16 at 1280x720: 2.3 s against 3.0 s a frame on 2 cores), and
    the features come out channels-last. The engine's frames, made from uint8 (H, W, 3) buffers, already are;
    this keeps any other input from the slower path. Other devices keep the layout they get. The values move by
    float32 rounding only (another summation order inside the convolutions)."""
    import torch

    if x.device.type != "cpu" or x.ndim != 4:
        return x
    return x.contiguous(memory_format=torch.channels_last)


class PyiqaMetric(Metric):
    """A pyiqa metric built lazily on first use, after its weight files have been found."""

    tolerates_fast = True

    def __init__(self, card: MetricCard, pyiqa_name: str, options: dict[str, Any]) -> None:
        self.card, self.pyiqa_name, self.options = card, pyiqa_name, options
        self.model = None

    def setup(self, device: Any) -> None:
        check_ready(self.card)
        self.digests = {w.name: digest(w) for w in self.card.weights}  # memoised: checked just above
        self.sources = {w.name: source(w) for w in self.card.weights}
        try:
            import pyiqa
        except ImportError as e:
            raise MetricUnavailable(self.card.name, f"pyiqa cannot be imported ({e})") from e
        try:
            with warnings.catch_warnings():  # CLIP's released files are TorchScript, which torch now calls deprecated
                warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.* is deprecated", category=FutureWarning)
                self.model = self.build(pyiqa, device)
        except Exception as e:  # noqa: BLE001 - pyiqa raises many types (network, hub, file); all mean "cannot run"
            raise MetricUnavailable(self.card.name, f"pyiqa could not build it: {type(e).__name__}: {e}") from e

    def build(self, pyiqa: Any, device: Any) -> Any:
        return pyiqa.create_metric(self.pyiqa_name, device=device, **self.options)

    def compute(self, out, gt, ref=None):
        import torch

        with torch.inference_mode():
            if self.card.needs_gt:
                return self.model(out, gt).reshape(-1).double()
            return by_frame(self.model, out, self.pyiqa_name in CPU_FRAME_BY_FRAME).reshape(-1).double()

    def provenance(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {**super().provenance(), "pyiqa": version("pyiqa"), "pyiqa_name": self.pyiqa_name,
                "options": self.options, "weights_sha256": getattr(self, "digests", {}),
                "weights_source": getattr(self, "sources", {})}


class LaionAesMetric(PyiqaMetric):
    """pyiqa's LAION aesthetic predictor (`laion_aes`) with CLIP ViT-L/14 loaded from our cache path. pyiqa's
    constructor calls `clip.load('ViT-L/14')`, which reads (or downloads into) CLIP's own folder under ~/.cache; so
    the network is assembled here from the same parts (CLIP loaded from a file path, pyiqa's MLP head with its
    weights) and scored by pyiqa's own `LAIONAes.forward`."""

    def build(self, pyiqa: Any, device: Any) -> Any:
        import clip
        import torch
        from pyiqa.archs.laion_aes_arch import MLP, LAIONAes

        clip_model, _ = clip.load(str(CLIP_VIT_L14.path), device="cpu")
        net = LAIONAes.__new__(LAIONAes)
        torch.nn.Module.__init__(net)
        net.mlp = MLP(clip_model.visual.output_dim)
        state = torch.load(LAION_HEAD.path, map_location="cpu", weights_only=True)
        net.mlp.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
        net.clip_model = [clip_model.float().to(device)]  # a list, as pyiqa keeps it: out of the module's state
        return net.to(device).eval()


class ClipIqaMetric(PyiqaMetric):
    """CLIP-IQA through pyiqa's network (`clipiqa`: CLIP RN50, the ten antonym prompts) with the prompts' text
    features encoded once per model (and device and dtype) instead of on every call (12 transformer layers on
    10 x 77 tokens, about 0.1 s a call on a CPU); the rest is pyiqa's `CLIPIQA.forward`: CLIP normalisation,
    `CLIP.forward` with those text features, softmax over each antonym pair, mean of the positive probabilities.
    The same operations on the same inputs, so the same values."""

    def setup(self, device: Any) -> None:
        super().setup(device)
        self.text_features = None

    def compute(self, out, gt, ref=None):
        import torch

        net = self.model.net
        if net.model_type != "clipiqa":  # the learned-prompt variants go through pyiqa's own forward
            return super().compute(out, gt, ref)
        with torch.inference_mode():
            x = cpu_channels_last(out)
            x = (x - net.default_mean.to(x)) / net.default_std.to(x)
            clip = net.clip_model[0].to(x)
            cached = self.text_features
            if cached is None or cached.device != x.device or cached.dtype != x.dtype:
                self.text_features = clip.encode_text(net.prompt_pairs.to(x.device))
            logits, _ = clip(x, None, pos_embedding=net.pos_embedding, text_features=self.text_features)
            probs = logits.reshape(logits.shape[0], -1, 2).softmax(dim=-1)
            return probs[..., 0].mean(dim=1).reshape(-1).double()


class LpipsMetric(PyiqaMetric):
    """LPIPS through pyiqa's network, with the ground-truth features computed once per chunk and reused for
    every method (same operations as pyiqa's `LPIPS.forward`: [-1, 1] scaling, ScalingLayer, unit-normalised
    features, squared difference, 1x1 linear layers, spatial mean, sum over layers)."""

    def _features(self, x):
        net = self.model.net
        return [f / (f.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                for f in net.net.forward(net.scaling_layer(cpu_channels_last(2 * x - 1)))]

    def reference(self, gt):
        import torch

        with torch.inference_mode():
            return self._features(gt)

    def compute(self, out, gt, ref=None):
        import torch

        net = self.model.net
        with torch.inference_mode():
            ref = self._features(gt) if ref is None else ref
            feats = self._features(out)
            val = sum(net.lins[k]((feats[k] - ref[k]) ** 2).mean((2, 3), keepdim=True) for k in range(net.L))
            return val.reshape(-1).double()



class DistsMetric(PyiqaMetric):
    """DISTS through pyiqa's network with the ground-truth VGG features and their statistics computed once per
    chunk and reused for every method (same operations as pyiqa's `DISTS.forward`)."""

    def reference(self, gt):
        import torch

        with torch.inference_mode():
            feats = by_frame(self.model.net.forward_once, cpu_channels_last(gt), "dists" in CPU_FRAME_BY_FRAME)
            means = [f.mean([2, 3], keepdim=True) for f in feats]
            return feats, means, [((f - m) ** 2).mean([2, 3], keepdim=True) for f, m in zip(feats, means, strict=True)]

    def compute(self, out, gt, ref=None):
        import torch

        net = self.model.net
        with torch.inference_mode():
            y_feats, y_means, y_vars = self.reference(gt) if ref is None else ref
            x_feats = by_frame(net.forward_once, cpu_channels_last(out), "dists" in CPU_FRAME_BY_FRAME)
            w_sum = net.alpha.sum() + net.beta.sum()
            alpha = torch.split(net.alpha / w_sum, net.chns, dim=1)
            beta = torch.split(net.beta / w_sum, net.chns, dim=1)
            d1 = d2 = 0
            c1 = c2 = 1e-6
            for k in range(len(net.chns)):
                x, xm = x_feats[k], x_feats[k].mean([2, 3], keepdim=True)
                ym, yv = y_means[k], y_vars[k]
                d1 = d1 + (alpha[k] * (2 * xm * ym + c1) / (xm**2 + ym**2 + c1)).sum(1, keepdim=True)
                xv = ((x - xm) ** 2).mean([2, 3], keepdim=True)
                cov = (x * y_feats[k]).mean([2, 3], keepdim=True) - xm * ym
                d2 = d2 + (beta[k] * (2 * cov + c2) / (xv + yv + c2)).sum(1, keepdim=True)
            return (1 - (d1 + d2)).reshape(-1).double()


def _card(name, summary, kind, higher, rng, pyiqa_name, weights, convention="", unit="", version="1") -> MetricCard:
    return MetricCard(name=name, summary=summary, kind=kind, higher_is_better=higher, range=rng, version=version,
                      convention=convention or f"pyiqa '{pyiqa_name}' defaults", reference=f"pyiqa {pyiqa_name}",
                      needs_gt=kind == "FR", unit=unit, weights=tuple(weights), requires=("pyiqa",))


LEARNED = [
    (_card("lpips-alex", "LPIPS v0.1, AlexNet trunk", "FR", False, (0.0, 1.0), "lpips",
           [ALEXNET, LPIPS_ALEX]), "lpips", {}),
    (_card("lpips-vgg", "LPIPS v0.1, VGG16 trunk (BasicSR / InvSR)", "FR", False, (0.0, 1.0), "lpips-vgg",
           [VGG16, LPIPS_VGG]), "lpips-vgg", {}),
    (_card("dists", "DISTS", "FR", False, (0.0, 1.0), "dists", [VGG16, DISTS_HEAD]), "dists", {}),
    (_card("musiq", "MUSIQ (KonIQ-10k)", "NR", True, (0.0, 100.0), "musiq",
           [_pyiqa("musiq_koniq_ckpt-e95806b9.pth", "e95806b9", signature=(
               ("conv_root.weight", (64, 3, 7, 7)), ("head.weight", (1, 384))))]), "musiq", {}),
    (_card("clipiqa", "CLIP-IQA (pyiqa prompt ensemble, RN50)", "NR", True, (0.0, 1.0), "clipiqa",
           [CLIP_RN50]), "clipiqa", {}),
    (_card("niqe", "NIQE (pyiqa, YIQ luma)", "NR", False, (0.0, None), "niqe", [NIQE_PARAMS],
           convention="pyiqa 'niqe' defaults (YIQ luma rounded to integers, 96x96 blocks, no border crop); MATLAB NIQE "
                      "model parameters as shipped in BasicSR 1.4.2; on a CPU computed by vrbench in float64 "
                      "NumPy/OpenCV, equal to pyiqa within 1e-6; on other devices by pyiqa's network",
           version="3"), "niqe", {}),
    (_card("maniqa", "MANIQA (KonIQ-10k)", "NR", True, (0.0, 1.0), "maniqa",
           [_pyiqa("ckpt_koniq10k.pt", signature=(("conv1.weight", (768, 3072, 1, 1)),
                                                 ("conv2.weight", (384, 768, 1, 1))))],
           convention="pyiqa 'maniqa'; also needs timm vit_base_patch8_224 in the HF cache"), "maniqa", {}),
    (_card("laion-aes", "LAION aesthetic predictor (CLIP ViT-L/14 + MLP head; DTG-Restore's LAION AP)", "NR", True,
           (1.0, 10.0), "laion_aes", [LAION_HEAD, CLIP_VIT_L14],
           convention="pyiqa 'laion_aes': CLIP preprocessing on the tensor (bicubic resize, 224 centre crop)"),
     "laion_aes", {}),
]


# Metrics whose class lives in a module of its own (it imports this one), imported when first built.
OWN_MODULE = {"niqe": "vrbench.metrics.niqe:NiqeMetric", "musiq": "vrbench.metrics.musiq:MusiqMetric"}


def _build(pyiqa_name: str, card: MetricCard, options: dict[str, Any]) -> Metric:
    module, _, name = OWN_MODULE[pyiqa_name].partition(":")
    return getattr(importlib.import_module(module), name)(card, pyiqa_name, options)


def _register() -> None:
    for card, pyiqa_name, options in LEARNED:
        if pyiqa_name in OWN_MODULE:
            METRICS.add(card, functools.partial(_build, pyiqa_name, card, options))
            continue
        cls = {"lpips": LpipsMetric, "lpips-vgg": LpipsMetric, "dists": DistsMetric, "clipiqa": ClipIqaMetric,
               "laion_aes": LaionAesMetric}.get(pyiqa_name, PyiqaMetric)
        METRICS.add(card, functools.partial(cls, card, pyiqa_name, options))


_register()
