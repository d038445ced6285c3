"""`vrbench profile`: the temporal-profile figure of one clip of a stored run.

The x-t images and their figure live in `vrbench.report.temporal_profile`; this module picks the clip, its
outputs and the line from the store and the command line, then draws.
"""

from __future__ import annotations

from vrbench.errors import InputError
from vrbench.report.temporal_profile import auto_zoom, parse_zoom, plot_profiles, profile_panels, resolve_line


def profile_figure(store, run: str, dataset: str, clip_name: str, methods: list[str], *, metric: str | None = None,
                   row: str | None = None, column: str | None = None, zoom: str | None = "auto",
                   curves: bool = True):
    """The temporal-profile figure of one clip of a stored run: returns (fig, axes, line index, axis)."""
    from vrbench.report import plots, sources, tables

    if row is not None and column is not None:
        raise InputError("choose a row or a column, not both", expected="--row or --column", found=(row, column))
    info = sources.run_media(store, run)
    results = tables.with_labels(store.results_frame(run))
    results = results[(results["dataset"] == dataset) & (results["clip"] == clip_name)
                      & results["label"].isin(methods)]
    clip = sources.dataset_clips(info, dataset).get(clip_name)
    if clip is None or results.empty:
        raise InputError("nothing to profile", clip=clip_name, dataset=dataset,
                         expected=f"stored outputs of {methods}", found=sorted(set(results["label"])))
    units = sources.method_runs(store, run, results)
    outputs = {}
    for label in tables.ordered_labels(results, methods):
        r = results[results["label"] == label]
        unit = units[(units["method"] == r["method"].iloc[0]) & (units["steps"] == r["steps"].iloc[0])
                     & (units["seed"] == r["seed"].min())]
        outputs[label] = sources.output_video(unit.iloc[0], info, clip)
    reference = clip.gt if clip.gt is not None else next(iter(outputs.values()))
    axis = "column" if column is not None else "row"
    size = reference.height if axis == "row" else reference.width
    index = resolve_line(column if column is not None else row, size, reference, axis)
    scale = max(1, round(reference.height / clip.lq.height)) if clip.lq is not None else 1
    panels = profile_panels(clip.gt, clip.lq, outputs, index, axis, scale)
    first = next(iter(panels.values()))
    span = parse_zoom(zoom, first.shape[1])
    span = auto_zoom(first) if span == "auto" else span
    colors = plots.method_colors(list(outputs))
    metric = metric or (sorted(results["metric"].unique(), key=tables.metric_order)[0])
    draw = (lambda ax: plots.per_frame_curves(results, dataset, clip_name, metric, ax=ax, colors=colors,
                                              order=methods)) if curves else None
    frame = reference.read(reference.num_frames // 2, reference.num_frames // 2 + 1)[0]
    fig, axes = plot_profiles(panels, axis=axis, index=index, frame=frame, zoom=span, curves=draw, colors=colors,
                              title=f"{clip_name} ({dataset}): {axis} {index} over {first.shape[0]} frames"
                                    + (f"; zoom {span[0]}–{span[1]}" if span else ""))
    return fig, axes, index, axis
