"""Blind pairwise user study (GSB): a static page of randomised, unlabelled pairs, and the scoring of its answers.

The protocol is SeedVR2's (§4.1, Table 2): raters compare two results of the same clip per criterion as Good /
Same / Bad, and a method's preference is (G − B) / (G + S + B), in [−1, 1]. Coding a judgement as +1 / 0 / −1
from one method's side makes the preference the mean of the codes, so its interval is the bootstrap interval
of that mean (over judgements, seeded).

Blinding: the page holds only opaque video ids and trial ids; which method is on which side is written to
`key.json` beside the page, which raters never need. Left / right sides and the order of trials are shuffled
with the study's seed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vrbench.errors import InputError
from vrbench.report import media, sources, tables
from vrbench.stats import bootstrap_ci
from vrbench.store import Store
from vrbench.video import Video

CRITERIA = ("fidelity", "quality", "overall")  # SeedVR2 Table 2: visual fidelity, visual quality, overall
HINTS = {"fidelity": "faithful to the content of the input: no invented or lost details, colours kept",
         "quality": "sharp, natural textures; no noise, blur or artefacts",
         "overall": "which would you rather watch",
         "temporal": "stable over time: no flicker, no crawling textures"}
CHOICES = {"left": 1, "same": 0, "right": -1}  # from the left video's side


def _pairs(methods: list[str], reference: str | None) -> list[tuple[str, str]]:
    if reference is None:
        return list(itertools.combinations(methods, 2))
    if reference not in methods:
        raise InputError("reference method not in the study", expected=f"one of {methods}", found=reference)
    return [(m, reference) for m in methods if m != reference]


def _frames(video: Video, max_frames: int, max_side: int) -> list[str]:
    import cv2

    out = []
    for chunk in video.iter_chunks(16, 0, min(video.num_frames, max_frames)):
        for f in chunk:
            h, w = f.shape[:2]
            if max(h, w) > max_side:
                k = max_side / max(h, w)
                f = cv2.resize(f, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
            out.append(media.jpeg_data_uri(f))
    return out


def plan_trials(clips: dict[str, list[str]], reference: str | None, seed: int) -> list[dict[str, str]]:
    """Trials {id, clip, left, right}: every pair of methods on every clip, sides and order shuffled (seeded)."""
    rng = np.random.default_rng(seed)
    trials = []
    for clip, methods in clips.items():
        for a, b in _pairs(methods, reference):
            left, right = (a, b) if rng.random() < 0.5 else (b, a)
            trials.append({"clip": clip, "left": left, "right": right})
    order = rng.permutation(len(trials))
    return [{"id": f"t{i + 1:03d}", **trials[j]} for i, j in enumerate(order)]


def make_study(store: Store, run: str, out_dir: Path, *, methods: list[str] | None = None,
               dataset: str | None = None, clips: list[str] | None = None, criteria: tuple[str, ...] = CRITERIA,
               reference: str | None = None, seed: int = 0, max_frames: int = 48, max_side: int = 960
               ) -> tuple[Path, Path]:
    """Write `index.html` (the blind page) and `key.json` (the unblinding key) to `out_dir`."""
    info = sources.run_media(store, run)
    df = store.results_frame(run)
    if not info or df.empty:
        raise InputError("no results to build a study from", file=store.path, expected=f"a run named '{run}'",
                         found=store.runs())
    df = tables.with_labels(df)
    dataset = dataset or sorted(df["dataset"].unique())[0]
    sub = df[df["dataset"] == dataset]
    methods = methods or tables.ordered_labels(sub, tables.config_order(info))
    unknown = sorted(set(methods) - set(sub["label"]))
    if len(methods) < 2 or unknown:
        raise InputError("a study needs two or more methods of the run", dataset=dataset,
                         expected=sorted(set(sub["label"])), found=unknown or methods)
    videos, per_clip = _collect(store, run, info, sub, dataset, methods, clips)
    if "fidelity" in criteria:  # fidelity is judged against what the method was given (and the GT, if any)
        videos.update(_references(info, dataset, per_clip, videos))
    trials = plan_trials(per_clip, reference, seed)
    return _write(out_dir, run, dataset, trials, videos, tuple(criteria), seed, reference, max_frames, max_side)


def _collect(store: Store, run: str, info: dict[str, Any], sub: pd.DataFrame, dataset: str, methods: list[str],
             clips: list[str] | None) -> tuple[dict[tuple[str, str], Video], dict[str, list[str]]]:
    runs = sources.method_runs(store, run)
    all_clips = sources.dataset_clips(info, dataset)
    videos, per_clip = {}, {}
    for name in clips or sorted(sub["clip"].unique()):
        clip = all_clips.get(name)
        if clip is None:
            raise InputError("clip not in the dataset", clip=name, dataset=dataset, expected=sorted(all_clips))
        have = []
        for label in methods:
            rows = sub[(sub["clip"] == name) & (sub["label"] == label)]
            if rows.empty:
                continue
            unit = runs[(runs["dataset"] == dataset) & (runs["clip"] == name) & (runs["method"] == rows["method"]
                        .iloc[0]) & (runs["steps"] == rows["steps"].iloc[0]) & (runs["seed"] == rows["seed"].min())]
            if unit.empty:
                continue
            videos[(name, label)] = sources.output_video(unit.iloc[0], info, clip)
            have.append(label)
        if len(have) >= 2:
            per_clip[name] = have
    if not per_clip:
        raise InputError("no clip has outputs of two methods on this machine", dataset=dataset,
                         expected="cached outputs (run the benchmark here first)", found="none")
    return videos, per_clip


REFERENCES = ("Input", "GT")


def _references(info: dict[str, Any], dataset: str, per_clip: dict[str, list[str]],
                videos: dict[tuple[str, str], Video]) -> dict[tuple[str, str], Video]:
    """(clip, "Input") — the LQ upsampled with nearest neighbour to the outputs' size, so its pixels show as they
    are — and (clip, "GT") where the dataset has one."""
    from vrbench.data.geometry import resize_frames

    all_clips = sources.dataset_clips(info, dataset)
    out: dict[tuple[str, str], Video] = {}
    for name, labels in per_clip.items():
        clip, shown = all_clips[name], videos[(name, labels[0])]
        if clip.lq is not None:
            lq, hw = clip.lq, shown.size
            out[(name, "Input")] = Video.from_chunks(
                lambda n, lq=lq, hw=hw: (resize_frames(c, hw, "nearest") for c in lq.iter_chunks(n)),
                lq.num_frames, hw[0], hw[1], lq.fps, name)
        if clip.gt is not None:
            out[(name, "GT")] = clip.gt
    return out


def _write(out_dir: Path, run: str, dataset: str, trials: list[dict[str, str]], videos: dict[tuple[str, str], Video],
           criteria: tuple[str, ...], seed: int, reference: str | None, max_frames: int, max_side: int
           ) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed + 1)
    refs = {t["clip"]: [k for k in ((t["clip"], r) for r in REFERENCES) if k in videos] for t in trials}
    used = sorted({(t["clip"], t["left"]) for t in trials} | {(t["clip"], t["right"]) for t in trials}
                  | {k for ks in refs.values() for k in ks})
    ids = {k: f"v{rng.integers(16**8):08x}" for k in used}
    key = {"run": run, "dataset": dataset, "criteria": list(criteria), "seed": seed, "reference": reference,
           "trials": {t["id"]: {"clip": t["clip"], "left": t["left"], "right": t["right"]} for t in trials}}
    study_id = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    key["study"] = study_id
    fps = next(iter(videos.values())).fps
    page = {"study": study_id, "criteria": list(criteria), "fps": fps, "hints": {c: HINTS.get(c, "") for c in criteria},
            "videos": {ids[k]: _frames(videos[k], max_frames, max_side) for k in used},
            "trials": [{"id": t["id"], "left": ids[(t["clip"], t["left"])], "right": ids[(t["clip"], t["right"])],
                        "refs": [{"name": k[1], "video": ids[k]} for k in refs[t["clip"]]]} for t in trials]}
    from vrbench.fsutil import atomic_write_text, claim_folder
    from vrbench.report.html import render

    out_dir = claim_folder(out_dir, "study", run=run)  # never into a folder vrbench did not make
    index = atomic_write_text(out_dir / "index.html", render({"page": page}, "study.html.j2"))
    key_file = atomic_write_text(out_dir / "key.json", json.dumps(key, indent=1, sort_keys=True))
    return index, key_file


def load_answers(files: list[Path], key: dict[str, Any]) -> pd.DataFrame:
    """Judgements of every answers file, checked against the key; a rater's last answer per question counts."""
    rows = []
    for file in files:
        try:
            data = json.loads(Path(file).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InputError("answers file is not readable JSON", file=file, found=str(e)) from e
        if data.get("study") != key["study"]:
            raise InputError("answers belong to another study", file=file, expected=key["study"],
                             found=data.get("study"))
        rater = str(data.get("rater") or Path(file).stem)
        for a in data.get("answers", []):
            trial, criterion, choice = a.get("trial"), a.get("criterion"), a.get("choice")
            if trial not in key["trials"] or criterion not in key["criteria"] or choice not in CHOICES:
                raise InputError("unknown answer", file=file, expected=f"a trial of the key, a criterion in "
                                 f"{key['criteria']} and a choice in {sorted(CHOICES)}", found=a)
            rows.append({"rater": rater, "trial": trial, "criterion": criterion, "choice": choice})
    df = pd.DataFrame(rows, columns=["rater", "trial", "criterion", "choice"])
    return df.drop_duplicates(["rater", "trial", "criterion"], keep="last").reset_index(drop=True)


def gsb_scores(answers: pd.DataFrame, key: dict[str, Any], *, reference: str | None = None, n_boot: int = 1000,
               seed: int = 0) -> pd.DataFrame:
    """Per criterion and method: G, S, B, preference (G − B)/(G + S + B) and its bootstrap interval.

    With `reference`, only trials against that method count and G means "better than the reference";
    without, each method pools all its comparisons.
    """
    outcomes = []
    for a in answers.itertuples():
        t = key["trials"][a.trial]
        code = CHOICES[a.choice]
        for method, other, sign in ((t["left"], t["right"], 1), (t["right"], t["left"], -1)):
            if reference is not None and other != reference:
                continue
            outcomes.append({"criterion": a.criterion, "method": method, "code": sign * code})
    table = pd.DataFrame(outcomes, columns=["criterion", "method", "code"])
    rows = []
    for (criterion, method), g in table.groupby(["criterion", "method"], sort=False):
        codes = g["code"].to_numpy(dtype=float)
        iv = bootstrap_ci(codes, n_boot=n_boot, seed=seed)
        rows.append({"criterion": criterion, "method": method, "G": int((codes > 0).sum()),
                     "S": int((codes == 0).sum()), "B": int((codes < 0).sum()), "n": len(codes),
                     "preference": iv.mean, "low": iv.low, "high": iv.high})
    order = {c: i for i, c in enumerate(key["criteria"])}
    out = pd.DataFrame(rows, columns=["criterion", "method", "G", "S", "B", "n", "preference", "low", "high"])
    return out.sort_values(["criterion", "preference"], key=lambda s: s.map(order) if s.name == "criterion"
                           else -s).reset_index(drop=True)
