"""The per-clip drill-down of the report (clip table, per-frame curves, temporal profile, frame viewer) and the
step-sweep figures. Each returns plain dicts for the template; pictures are data URIs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from vrbench.data.base import Clip
from vrbench.errors import VrbenchError
from vrbench.report import media, plots, sources, tables
from vrbench.report import step_sweep as sweep
from vrbench.report import temporal_profile as xt
from vrbench.report.cards import LIVE, MetricCards
from vrbench.video import Video

VIEWER_FRAMES = 12  # consecutive: stepping through them shows flicker, which evenly spaced frames hide
VIEWER_MAX_SIDE = 512  # larger frames are shown as a crop of this size where the GT has the most texture
CURVE_METRICS = 3


def clip_pages(df: pd.DataFrame, runs: pd.DataFrame, info: dict[str, Any], colors: dict[str, str], *,
               media_on: bool = True, order: list[str] | None = None, cards: MetricCards = LIVE
               ) -> list[dict[str, Any]]:
    """One entry per dataset, each with one entry per clip; `media_on=False` leaves the pictures out."""
    out = []
    for dataset in sorted(df["dataset"].unique()):
        sub = tables.with_labels(df[df["dataset"] == dataset])
        try:
            clips = sources.dataset_clips(info, dataset) if media_on else {}
            note = ""
        except sources.SourceUnavailable as e:
            clips, note = {}, str(e)
        pages = []
        for i, name in enumerate(sorted(sub["clip"].unique())):
            page = _clip_page(sub[sub["clip"] == name], runs, info, clips.get(name), colors, order, cards)
            if not media_on:
                page["notes"] = ["frames, profiles and viewer left out of this report (written without media)"]
            page["id"] = f"clip-{len(out)}-{i}"
            pages.append(page)
        out.append({"dataset": dataset, "clips": pages, "note": note})
    return out


def _clip_page(sub: pd.DataFrame, runs: pd.DataFrame, info: dict[str, Any], clip: Clip | None,
               colors: dict[str, str], order: list[str] | None, cards: MetricCards) -> dict[str, Any]:
    name, dataset = sub["clip"].iloc[0], sub["dataset"].iloc[0]
    labels = tables.ordered_labels(sub, order)
    metrics = sorted(sub["metric"].unique(), key=cards.order)
    values = sub.groupby(["label", "metric"])["value"].agg(tables.plain_mean).unstack("metric")
    marks = {m: tables.rank_marks(values[m], cards.higher(m)) for m in metrics if cards.higher(m) is not None}
    rows = [{"method": label, "cells": [{"text": tables.format_value(values.loc[label, m], m, cards),
                                         "value": tables.sort_value(values.loc[label, m]),
                                         "mark": marks.get(m, {}).get(label, "")} for m in metrics]}
            for label in labels]
    heads = [{"metric": m, "arrow": cards.arrow(m), "higher": cards.higher(m)} for m in metrics]
    page = {"name": name, "dataset": dataset, "metrics": heads,
            "rows": rows, "curve": _curves(sub, metrics, colors, order, cards), "profile": None, "viewer": None,
            "notes": [], "outputs": {}}
    if clip is None:
        page["notes"].append("frames not available on this machine: only the numbers are shown")
        return page
    outputs, missing = _outputs(sub, runs, info, clip, labels)
    page["notes"] += missing
    page["outputs"] = {label: str(v.path) for label, v in outputs.items() if v.path is not None}
    try:
        page["profile"] = _profile(clip, outputs, colors)
        page["viewer"] = _viewer(clip, outputs)
    except (VrbenchError, OSError, ValueError) as e:
        page["notes"].append(f"pictures of this clip could not be made: {e}")
    return page


def _outputs(sub: pd.DataFrame, runs: pd.DataFrame, info: dict[str, Any], clip: Clip, labels: list[str]
             ) -> tuple[dict[str, Video], list[str]]:
    """Label -> restored clip (the lowest seed of each), and notes for those not on this machine."""
    outputs, missing = {}, []
    units = runs[(runs["dataset"] == sub["dataset"].iloc[0]) & (runs["clip"] == clip.name)]
    for label in labels:
        rows = sub[sub["label"] == label]
        method, steps, seed = rows["method"].iloc[0], int(rows["steps"].iloc[0]), int(rows["seed"].min())
        unit = units[(units["method"] == method) & (units["steps"] == steps) & (units["seed"] == seed)]
        if unit.empty:
            missing.append(f"no record of the output of {label}")
            continue
        try:
            outputs[label] = sources.output_video(unit.iloc[0], info, clip)
        except sources.SourceUnavailable as e:
            missing.append(str(e))
    return outputs, missing


def _curves(sub: pd.DataFrame, metrics: list[str], colors: dict[str, str], order: list[str] | None,
            cards: MetricCards = LIVE) -> str | None:
    framed = [m for m in metrics if sub[sub["metric"] == m]["per_frame"].map(
        lambda a: a is not None and len(a) > 1).any()][:CURVE_METRICS]
    if not framed:
        return None
    plt = plots.pyplot()
    fig, axes = plt.subplots(len(framed), 1, figsize=(6.6, 2.3 * len(framed)), dpi=110, squeeze=False)
    for ax, metric in zip(axes[:, 0], framed, strict=True):
        plots.per_frame_curves(sub, sub["dataset"].iloc[0], sub["clip"].iloc[0], metric, ax=ax, colors=colors,
                                order=order, higher=cards.higher(metric))
    fig.tight_layout()
    return plots.figure_to_data_uri(fig)


def _scale(clip: Clip, reference: Video | None) -> int:
    if reference is None or clip.lq is None:
        return 1
    return max(1, round(reference.height / clip.lq.height))


def _profile(clip: Clip, outputs: dict[str, Video], colors: dict[str, str]) -> dict[str, Any] | None:
    reference = clip.gt if clip.gt is not None else next(iter(outputs.values()), None)
    if reference is None:
        return None
    row = xt.auto_line(reference, "row")
    panels = xt.profile_panels(clip.gt, clip.lq, outputs, row, "row", _scale(clip, reference))
    first = next(iter(panels.values()))
    zoom = xt.auto_zoom(first)
    frame = reference.read(reference.num_frames // 2, reference.num_frames // 2 + 1)[0]
    fig, _ = xt.plot_profiles(panels, axis="row", index=row, frame=frame, zoom=zoom, colors=colors,
                              title=f"{clip.name}: row {row} over {first.shape[0]} frames (chosen: most temporal "
                                    f"detail{' in GT' if clip.gt is not None else ''}); second row: x {zoom[0]}–"
                                    f"{zoom[1]}")
    return {"src": plots.figure_to_data_uri(fig, dpi=110), "row": row, "zoom": list(zoom)}


def _viewer(clip: Clip, outputs: dict[str, Video]) -> dict[str, Any] | None:
    """Frames for the synchronised viewer: GT, input and each method at the same run of consecutive frames (the
    middle of the clip), as JPEG data URIs."""
    reference = clip.gt if clip.gt is not None else next(iter(outputs.values()), None)
    if reference is None:
        return None
    scale = _scale(clip, reference)
    first = max(0, min(reference.num_frames - VIEWER_FRAMES, reference.num_frames // 2 - VIEWER_FRAMES // 2))
    picks = list(range(first, min(first + VIEWER_FRAMES, reference.num_frames)))
    middle = reference.read(picks[len(picks) // 2], picks[len(picks) // 2] + 1)[0]
    box = media.detail_crop(middle, VIEWER_MAX_SIDE, multiple=scale) if max(middle.shape[:2]) > VIEWER_MAX_SIDE \
        else (0, 0, *middle.shape[:2])
    sources_ = ([("GT", clip.gt, 1)] if clip.gt is not None else []) + \
               ([("Input", clip.lq, scale)] if clip.lq is not None else []) + [(k, v, 1) for k, v in outputs.items()]
    panels = []
    for name, video, s in sources_:
        frames = [media.crop(video.read(i, i + 1), box, s)[0] for i in picks if i < video.num_frames]
        panels.append({"name": name, "src": [media.jpeg_data_uri(f) for f in frames],
                       "kind": "input" if name == "Input" else "output"})
    top, left, h, w = box
    cropped = (h, w) != tuple(middle.shape[:2])
    return {"frames": picks, "panels": panels, "height": h, "width": w, "scale": scale,
            "crop": f"crop {w}×{h} at ({left}, {top}) of {middle.shape[1]}×{middle.shape[0]}" if cropped else ""}


def sweep_figures(df: pd.DataFrame, runs: pd.DataFrame, colors: dict[str, str], cards: MetricCards = LIVE
                  ) -> list[dict[str, Any]]:
    """Step-sweep curves and the perception-distortion view, per dataset, when some method ran several steps."""
    stepped = df[df["steps"] >= 0]
    if stepped.empty or stepped.groupby("method")["steps"].nunique().max() < 2:
        return []
    table = sweep.sweep_table(stepped, runs if not runs.empty else None)
    method_colors = plots.method_colors(list(dict.fromkeys(stepped["method"])))
    out = []
    for dataset in sorted(table["dataset"].unique()):
        fig, _ = sweep.plot_sweep(table, dataset, colors=method_colors, cards=cards)
        entry = {"dataset": dataset, "sweep": plots.figure_to_data_uri(fig, dpi=110), "pd": None,
                 "rows": _sweep_rows(table[table["dataset"] == dataset], cards)}
        distortion, perception = sweep.distortion_and_perception(sorted(stepped["metric"].unique()), cards)
        if distortion and perception:
            fig, _ = sweep.plot_perception_distortion(table, distortion, perception, dataset, colors=method_colors,
                                                      cards=cards)
            entry["pd"] = plots.figure_to_data_uri(fig, dpi=110)
        out.append(entry)
    return out


def _sweep_rows(table: pd.DataFrame, cards: MetricCards) -> dict[str, Any]:
    wide = table.pivot_table(index=["method", "steps"], columns="metric", values="mean")
    metrics = [m for m in sorted(wide.columns, key=cards.order) if m != sweep.RUNTIME]
    metrics += [sweep.RUNTIME] if sweep.RUNTIME in wide.columns else []
    def cell(v: float, metric: str) -> dict[str, Any]:
        text = f"{v:.4f}" if metric == sweep.RUNTIME and np.isfinite(v) else tables.format_value(v, metric, cards)
        return {"text": text, "value": tables.sort_value(v)}

    rows = [{"method": m, "steps": int(s), "cells": [cell(wide.loc[(m, s), c], c) for c in metrics]}
            for m, s in wide.index]
    heads = [{"metric": c, "arrow": "↓" if c == sweep.RUNTIME else cards.arrow(c),
              "better": "low" if c == sweep.RUNTIME or cards.higher(c) is False else "high"}
             for c in metrics]
    return {"metrics": heads, "rows": rows}
