"""Golden tests of leaderboards on a small synthetic results table: marks by direction, NaN/inf, LaTeX, Markdown."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from vrbench.report.export import latex_escape, markdown_escape, to_latex, to_markdown
from vrbench.report.tables import build_boards, cross_dataset_ranks, format_value, rank_marks

# three clips; psnr-y is higher-is-better, lpips-alex lower-is-better (read from the metric cards)
VALUES = {
    "alpha": {"psnr-y": [30.0, 31.0, 32.0], "lpips-alex": [0.20, 0.22, 0.18]},
    "beta": {"psnr-y": [28.0, 29.5, 30.5], "lpips-alex": [0.10, 0.12, 0.11]},
    "a_b&c%": {"psnr-y": [math.inf, 33.0, 34.0], "lpips-alex": [math.nan, math.nan, math.nan]},
    "gamma": {"psnr-y": [29.0, 29.5, 30.5], "lpips-alex": [0.30, 0.25, 0.35]},
}


def results(values: dict, dataset: str = "set5") -> pd.DataFrame:
    rows = [{"run": "r", "dataset": dataset, "clip": f"c{i}", "method": m, "config_hash": "h", "steps": -1, "seed": 0,
             "metric": metric, "value": v, "per_frame": None, "protocol": "paper-x4", "method_name": m}
            for m, d in values.items() for metric, vals in d.items() for i, v in enumerate(vals)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def board():
    return build_boards(results(VALUES), order=list(VALUES))[0]


def test_marks_respect_direction_nan_and_inf(board):
    assert board.metrics == ["psnr-y", "lpips-alex"]  # fidelity before learned metrics, as papers order them
    assert board.marks["psnr-y"] == {"a_b&c%": "best", "alpha": "second"}  # +inf (identical frames) is best
    assert board.marks["lpips-alex"] == {"beta": "best", "alpha": "second"}  # lower is better; NaN never ranks
    assert math.isnan(board.mean("a_b&c%", "lpips-alex")) and board.mean("a_b&c%", "psnr-y") == math.inf


def test_rank_marks_ties_share_a_mark():
    marks = rank_marks(pd.Series({"x": 0.5, "y": 0.5, "z": 0.7, "w": float("nan")}), higher=False)
    assert marks == {"x": "best", "y": "best", "z": "second"}


def test_intervals_ranks_and_paired_tests_on_the_board(board):
    psnr = board.stats["psnr-y"]
    assert (psnr.loc["alpha", "low"], psnr.loc["alpha", "high"]) == (30.0, 32.0)
    assert psnr.loc["a_b&c%", "rank"] == 1 and psnr.loc["beta", "rank"] == 2  # [33, inf] clears every other interval
    lp = board.stats["lpips-alex"]
    assert lp["rank"].tolist()[:2] == [2.0, 1.0] and math.isnan(lp.loc["a_b&c%", "rank"])
    test = board.tests["lpips-alex"]["gamma"]  # gamma worse than beta on all 3 clips: exact p = 2/8
    assert test.p_value == 0.25 and test.difference == pytest.approx(0.19)
    assert board.tests["psnr-y"]["alpha"].dropped == 1  # the +inf clip cannot be differenced
    assert board.avg_rank("beta") == 1.5


def test_latex_is_paste_ready(board):
    assert to_latex(board) == r"""\begin{table}[t]
\centering
\caption{Results on set5 (3 clips), protocol \texttt{paper-x4}: per-frame values, clip mean, unweighted mean over clips. \textbf{bold}: best, \underline{underlined}: second best. $\uparrow$: higher is better, $\downarrow$: lower is better. Coverage: methods marked n/m have values on n of m clips; they are shown, not ranked or marked: a\_b\&c\%.}
\label{tab:vrbench-set5-paper-x4}
\begin{tabular}{lcc}
\toprule
Method & psnr-y $\uparrow$ & lpips-alex $\downarrow$ \\
\midrule
alpha & \underline{31.00} & \underline{0.2000} \\
beta & 29.33 & \textbf{0.1100} \\
a\_b\&c\% & \textbf{$\infty$} & -- (0/3) \\
gamma & 29.67 & 0.3000 \\
\bottomrule
\end{tabular}
\end{table}
"""  # noqa: E501


def test_latex_colour_convention_and_intervals(board):
    tex = to_latex(board, style="color", ci=True, label="tab:main")
    assert r"alpha & \textcolor{orange}{31.00\,$\pm$\,1.00} & \textcolor{orange}{0.2000\,$\pm$\,0.0200} \\" in tex
    assert r"\textcolor{red}{$\infty$} & -- (0/3)" in tex and r"\label{tab:main}" in tex and "95\\% bootstrap" in tex
    with pytest.raises(ValueError, match="'bold' or 'color'"):
        to_latex(board, style="italic")


def test_markdown_table(board):
    md = to_markdown(board).splitlines()
    assert md[2:8] == ["| Method | psnr-y ↑ | lpips-alex ↓ |", "|---|---:|---:|",
                       "| alpha | <u>31.00</u> | <u>0.2000</u> |", "| beta | 29.33 | **0.1100** |",
                       "| a\\_b&amp;c% | **∞** | – (0/3) |", "| gamma | 29.67 | 0.3000 |"]


def test_user_names_are_escaped_in_every_format():
    name = "<script>alert(1)</script>|x_{1}"
    assert latex_escape(name) == r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{}|x\_\{1\}"
    assert markdown_escape(name) == "&lt;script&gt;alert\\(1\\)&lt;/script&gt;\\|x\\_\\{1\\}"
    board = build_boards(results({name: VALUES["alpha"], "b": VALUES["beta"]}))[0]
    assert "<script>" not in to_markdown(board) and "<script>" not in to_latex(board)


def test_format_values():
    assert format_value(math.inf, "psnr-y") == "∞" and format_value(float("nan"), "psnr-y") == "–"
    assert format_value(28.123, "psnr-y") == "28.12" and format_value(0.12345, "ssim-y") == "0.1235"


def test_ranks_across_datasets():
    boards = build_boards(pd.concat([results(VALUES, "set5"), results(VALUES, "set14")]))
    table = cross_dataset_ranks(boards)
    assert table.index[0] == "beta" and table.loc["beta", "lpips-alex"] == 1.0
    assert table.loc["beta", "mean rank"] == pytest.approx(1.5)
    # no lpips value anywhere: ranked first on psnr-y, but no mean rank (it would average fewer metrics)
    assert table.loc["a_b&c%", "psnr-y"] == 1.0 and math.isnan(table.loc["a_b&c%", "mean rank"])


def test_a_method_missing_a_whole_dataset_gets_no_cross_dataset_rank():
    one = results(VALUES, "set5")
    two = results({k: v for k, v in VALUES.items() if k != "alpha"}, "set14")  # alpha missing on set14
    table = cross_dataset_ranks(build_boards(pd.concat([one, two]), methods=list(VALUES)))
    assert math.isnan(table.loc["alpha", "psnr-y"]) and math.isnan(table.loc["alpha", "mean rank"])


def test_a_clip_scored_with_fewer_seeds_than_the_others_counts_as_missing():
    rows = [{"run": "r", "dataset": "d", "clip": clip, "method": m, "config_hash": "h", "steps": -1, "seed": seed,
             "metric": "psnr-rgb", "value": 20.0 + 5.0 * (m == "y"), "per_frame": None, "protocol": "default",
             "method_name": m}
            for seed in (0, 1) for clip in ("a", "b", "c") for m in ("x", "y")
            if not (m == "y" and clip == "c" and seed == 1)]  # y lost one seed of one clip
    (board,) = build_boards(pd.DataFrame(rows), n_boot=20)
    assert board.coverage["psnr-rgb"] == {"x": (3, 3), "y": (2, 3)}
    assert board.partial == ["y"] and board.marks["psnr-rgb"] == {"x": "best"}  # y's higher mean is not ranked


def test_nan_values_of_a_temporal_metric_on_1_frame_clips_are_not_coverage():
    def row(clip, method, metric, value):
        return {"run": "r", "dataset": "d", "clip": clip, "method": method, "config_hash": "h", "steps": -1,
                "seed": 0, "metric": metric, "value": value, "per_frame": None, "protocol": "p", "method_name": method}

    rows = [row(c, m, "flicker", math.nan if c != "long" else 1.0 + (m == "y")) for c in ("one", "two", "long")
            for m in ("x", "y")]
    rows += [row(c, m, "ewarp-dis", math.nan) for c in ("one", "two", "long") for m in ("x", "y")]  # no value at all
    (board,) = build_boards(pd.DataFrame(rows), n_boot=20, planned={"d": {"one": True, "two": True, "long": True}})
    assert board.coverage["flicker"] == {"x": (1, 1), "y": (1, 1)}  # 1-frame clips: the metric does not apply
    assert "ewarp-dis" not in board.metrics and board.not_applicable["ewarp-dis"].startswith("no value on any clip")
