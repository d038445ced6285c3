"""Submissions and merged leaderboards: what a submission carries, that two of one protocol and LQ rank together,
and that another LQ manifest, protocol or metric version is kept apart with a line naming the hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.report.leaderboard import merge
from vrbench.report.submission import FORMAT, SubmissionError, read_submission

runner = CliRunner()


def _edited(src: Path, dst: Path, edit) -> Path:
    data = json.loads(src.read_text())
    edit(data)
    dst.write_text(json.dumps(data))
    return dst


def test_a_submission_describes_itself(submissions, demo_run):
    sub = read_submission(submissions[0])
    assert sub["format"] == FORMAT and sub["version"] == 1 and sub["name"] == demo_run[2]
    demo = sub["datasets"]["demo"]
    assert sorted(demo["clips"]) == ["bbb-bunny", "bikes-railing"] and all(demo["clips"].values())  # both have GT
    assert len(demo["lq_manifest_sha256"]) == 64 and len(demo["manifest_sha256"]) == 64
    assert sub["protocol"]["name"] == "default" and len(sub["protocol"]["sha256"]) == 64
    assert sub["protocol"]["conventions"]["crop_border"] == 0
    assert set(sub["metrics"]) == {"psnr-rgb", "ssim-y"} and sub["metrics"]["psnr-rgb"]["version"]
    assert sub["metrics"]["ssim-y"]["convention"]  # the card snapshot, not only a name
    # per-clip values: 3 methods x 2 clips x 2 metrics, and the dataset means with coverage
    assert len(sub["values"]) == 12 and {v["clip"] for v in sub["values"]} == {"bbb-bunny", "bikes-railing"}
    means = [r for r in sub["leaderboard"] if r["method"] == "bicubic" and r["metric"] == "psnr-rgb"]
    clip_values = [v["value"] for v in sub["values"] if v["method"] == "bicubic" and v["metric"] == "psnr-rgb"]
    assert means[0]["mean"] == pytest.approx(sum(clip_values) / 2) and means[0]["of_clips"] == 2
    assert sub["coverage"]["demo"]["bicubic"]["psnr-rgb"] == [2, 2]
    assert {"nearest", "bicubic"} <= set(sub["methods"]) and sub["methods"]["bicubic"]["kind"] == "baseline"
    assert {c["method"] for c in sub["cost"]} >= {"nearest", "bicubic"} and all(c["spf"] > 0 for c in sub["cost"])
    assert sub["environment"]["vrbench"] and "packages" in sub["environment"]


def test_same_protocol_and_lq_rank_together(submissions):
    a, b = (read_submission(f) for f in submissions)
    assert a["datasets"]["demo"]["lq_manifest_sha256"] == b["datasets"]["demo"]["lq_manifest_sha256"]
    groups, notes = merge(list(submissions))
    assert notes == [] and len(groups) == 1 and [m.source for m in groups[0].members] == ["lab-a", "lab-b"]
    from vrbench.report.leaderboard import group_board

    board = group_board(groups[0])
    assert "bicubic · lab-a" in board.methods and "lanczos · lab-b" in board.methods
    ranks = board.stats["psnr-rgb"]["rank"]
    assert ranks.notna().all() and len(ranks) == 5  # every row of both labs is ranked in one table
    # the same method, clip and LQ measured twice gives the same value in both submissions
    assert board.mean("bicubic · lab-a", "psnr-rgb") == board.mean("bicubic · lab-b", "psnr-rgb")


def test_another_lq_manifest_is_kept_apart_with_the_hash_named(submissions, tmp_path):
    other = _edited(submissions[1], tmp_path / "lab-c.json",
                    lambda d: d["datasets"]["demo"].update(lq_manifest_sha256="ab" * 32))
    groups, notes = merge([submissions[0], other])
    assert len(groups) == 2 and [len(g.members) for g in groups] == [1, 1]
    assert len(notes) == 1 and "lab-c.json on demo: lq_manifest_sha256 abababababab differs from lab-a.json's" \
        in notes[0]
    # a run that recorded no dataset manifest has no LQ hash: it is never ranked with another
    unknown = _edited(submissions[1], tmp_path / "lab-d.json",
                      lambda d: d["datasets"]["demo"].update(lq_manifest_sha256=""))
    groups, notes = merge([submissions[0], unknown])
    assert len(groups) == 2 and notes == ["kept apart: lab-d.json on demo: lq_manifest_sha256 unknown (no dataset "
                                          "manifest recorded) in lab-d.json"]


def test_another_protocol_or_metric_version_is_kept_apart(submissions, tmp_path):
    proto = _edited(submissions[1], tmp_path / "proto.json", lambda d: d["protocol"].update(sha256="cd" * 32))
    version = _edited(submissions[1], tmp_path / "version.json",
                      lambda d: d["metrics"]["psnr-rgb"].update(version="2"))
    groups, notes = merge([submissions[0], proto, version])
    assert len(groups) == 3
    assert "proto.json on demo: protocol hash cdcdcdcdcdcd" in notes[0]
    assert "version.json on demo: metric psnr-rgb v2" in notes[-1]


def test_a_bad_submission_is_refused_one_line_per_entry(submissions, tmp_path):
    def spoil(d):
        d["values"][0]["value"] = "many"
        del d["values"][1]["clip"]
        d["protocol"].pop("sha256")
        d["values"][2]["steps"] = "one"

    bad = _edited(submissions[0], tmp_path / "bad.json", spoil)
    with pytest.raises(SubmissionError) as e:
        read_submission(bad)
    assert e.value.problems == ["protocol.sha256: missing (the hash of the protocol's conventions)",
                                "values[0].value: expected a number, null, 'inf' or '-inf', found 'many'",
                                "values[1]: missing clip",
                                "values[2]: steps and seed must be integers, found 'one', 0"]
    newer = _edited(submissions[0], tmp_path / "newer.json", lambda d: d.update(version=99))
    out = runner.invoke(app, ["leaderboard", "build", str(newer), "--out", str(tmp_path / "site")])
    assert out.exit_code != 0 and isinstance(out.exception, SubmissionError)
    assert "version: expected a submission version <= 1, found 99" in str(out.exception)
    assert not (tmp_path / "site").exists()  # nothing written for a refused submission


def test_leaderboard_build_writes_the_site_and_says_what_is_apart(submissions, tmp_path):
    other = _edited(submissions[1], tmp_path / "lab-c.json",
                    lambda d: d["datasets"]["demo"].update(lq_manifest_sha256="ab" * 32))
    out = runner.invoke(app, ["leaderboard", "build", *map(str, [*submissions, other]), "--out",
                              str(tmp_path / "site")], terminal_width=300)
    assert out.exit_code == 0, out.output
    assert "kept apart: lab-c.json on demo: lq_manifest_sha256 abababababab" in out.output
    site = tmp_path / "site"
    merged = json.loads((site / "merged.json").read_text())
    assert [t["members"] for t in merged["tables"]] == [["lab-a.json", "lab-b.json"], ["lab-c.json"]]
    md = (site / "leaderboard.md").read_text()
    assert "lanczos · lab-b" in md and "lanczos · lab-c" in md and md.count("**demo**") == 2
    html = (site / "index.html").read_text()
    assert "default-src 'none'" in html and "Kept apart" in html
    # the folder is vrbench's now: building again replaces it; a foreign folder is refused
    assert runner.invoke(app, ["leaderboard", "build", str(submissions[0]), "--out", str(site)]).exit_code == 0
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    out = runner.invoke(app, ["leaderboard", "build", str(submissions[0]), "--out", str(tmp_path / "mine")])
    assert out.exit_code != 0 and (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_leaderboard_build_can_show_reported_rows_apart(submissions, tmp_path):
    out = runner.invoke(app, ["leaderboard", "build", *map(str, submissions), "--out", str(tmp_path / "site"),
                              "--reported", "dtg-restore-table1"])
    assert out.exit_code == 0, out.output
    md = (tmp_path / "site" / "leaderboard.md").read_text()
    measured, reported = md.split("## Reported results (not measured here)")
    assert "lab-a" in measured and "DTG-Restore" not in measured
    assert reported.count("*reported, not measured here*") == 3 and "| DTG-Restore | <u>22.76</u> |" in reported
    page = (tmp_path / "site" / "index.html").read_text()
    assert page.count('<table class="reported sortable"') == 3 and page.count('<table class="leaderboard') == 1


def test_export_replaces_its_own_file_and_refuses_any_other(submissions, demo_run, tmp_path):
    db, _, run = demo_run
    mine = tmp_path / "mine.json"
    mine.write_text(submissions[0].read_text())
    out = runner.invoke(app, ["export", run, "--store", str(db), "--submission", str(mine)])
    assert out.exit_code == 0 and read_submission(mine)["name"] == run
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    out = runner.invoke(app, ["export", run, "--store", str(db), "--submission", str(notes)])
    assert out.exit_code != 0 and "refusing to overwrite a file that is not a vrbench submission" in str(out.exception)
    assert notes.read_text() == '{"mine": true}'
    out = runner.invoke(app, ["export", "no-such-run", "--store", str(db), "--submission", str(tmp_path / "x.json")])
    assert out.exit_code != 0 and "no run named 'no-such-run'" in str(out.exception)
