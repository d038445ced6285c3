"""The blind GSB study: trials, blinding, the page in headless Chromium, and the scoring of exported answers."""

from __future__ import annotations

import json

import pytest

from vrbench.errors import InputError
from vrbench.experiments.study import gsb_scores, load_answers, make_study, plan_trials
from vrbench.store import Store

CHROMIUM = "/usr/bin/chromium"


def test_trials_cover_every_pair_with_shuffled_sides():
    trials = plan_trials({"c1": ["a", "b", "c"], "c2": ["a", "b", "c"]}, None, seed=0)
    assert [t["id"] for t in trials] == [f"t{i:03d}" for i in range(1, 7)]
    pairs = sorted((t["clip"], *sorted((t["left"], t["right"]))) for t in trials)
    assert pairs == [(c, x, y) for c in ("c1", "c2") for x, y in (("a", "b"), ("a", "c"), ("b", "c"))]
    assert plan_trials({"c1": ["a", "b", "c"], "c2": ["a", "b", "c"]}, None, seed=0) == trials
    sides = [t["left"] for t in plan_trials({f"c{i}": ["a", "b"] for i in range(40)}, None, seed=1)]
    assert 10 < sides.count("a") < 30  # sides are randomised, not fixed
    ref = plan_trials({"c1": ["a", "b", "c"]}, "c", seed=0)
    assert len(ref) == 2 and {frozenset((t["left"], t["right"])) for t in ref} == {frozenset("ac"), frozenset("bc")}


KEY = {"study": "s1", "criteria": ["fidelity", "overall"],
       "trials": {"t001": {"clip": "c1", "left": "a", "right": "b"},
                  "t002": {"clip": "c2", "left": "b", "right": "a"},
                  "t003": {"clip": "c1", "left": "a", "right": "c"}}}


def _answers(tmp_path, rater, choices):
    file = tmp_path / f"{rater}.json"
    file.write_text(json.dumps({"study": "s1", "rater": rater, "answers": [
        {"trial": t, "criterion": c, "choice": ch} for (t, c), ch in choices.items()]}))
    return file


def test_gsb_preference_golden(tmp_path):
    f1 = _answers(tmp_path, "r1", {("t001", "fidelity"): "left", ("t002", "fidelity"): "left",
                                   ("t003", "fidelity"): "same", ("t001", "overall"): "right"})
    f2 = _answers(tmp_path, "r2", {("t001", "fidelity"): "same", ("t002", "fidelity"): "right"})
    answers = load_answers([f1, f2], KEY)
    assert len(answers) == 6
    s = gsb_scores(answers, KEY).set_index(["criterion", "method"])
    # fidelity, method a: t001 r1 G, t002 r1 B (b on the left won), t003 r1 S, t001 r2 S, t002 r2 G -> (2-1)/5
    a = s.loc[("fidelity", "a")]
    assert (a.G, a.S, a.B, a.n) == (2, 2, 1, 5) and a.preference == pytest.approx(0.2)
    b = s.loc[("fidelity", "b")]
    assert (b.G, b.S, b.B) == (1, 1, 2) and b.preference == pytest.approx(-0.25)
    assert s.loc[("overall", "b")].preference == 1.0 and s.loc[("overall", "a")].preference == -1.0
    assert a.low <= a.preference <= a.high and a.low >= -1 and a.high <= 1
    vs_a = gsb_scores(answers, KEY, reference="a").set_index(["criterion", "method"])
    assert set(vs_a.index.get_level_values("method")) == {"b", "c"}  # a itself is only the reference
    assert vs_a.loc[("fidelity", "b")].preference == pytest.approx(-0.25)
    assert vs_a.loc[("fidelity", "c")].S == 1 and vs_a.loc[("fidelity", "c")].preference == 0.0


def test_answers_are_checked_against_the_key(tmp_path):
    bad = _answers(tmp_path, "r", {("t009", "fidelity"): "left"})
    with pytest.raises(InputError, match="unknown answer"):
        load_answers([bad], KEY)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"study": "zzz", "answers": []}))
    with pytest.raises(InputError, match="another study"):
        load_answers([other], KEY)
    again = _answers(tmp_path, "r", {("t001", "fidelity"): "left"})
    data = json.loads(again.read_text())
    data["answers"].append({"trial": "t001", "criterion": "fidelity", "choice": "right"})
    again.write_text(json.dumps(data))
    assert load_answers([again], KEY)["choice"].tolist() == ["right"]  # a changed answer: the last one counts


@pytest.fixture(scope="module")
def study(baselines_run, tmp_path_factory):
    db, _, run = baselines_run
    with Store(db) as store:
        index, key = make_study(store, run, tmp_path_factory.mktemp("study"), max_frames=8, seed=3)
    return index, json.loads(key.read_text())


def test_study_page_is_blind(study):
    index, key = study
    html = index.read_text()
    assert len(key["trials"]) == 3 and key["criteria"] == ["fidelity", "quality", "overall"]
    for name in ("nearest", "bicubic", "lanczos", "bikes-railing", "baselines"):
        assert name not in html  # no method, clip or run name on the page
    assert key["study"] in html and "default-src 'none'" in html


def test_a_study_never_writes_into_a_folder_vrbench_did_not_make(baselines_run, tmp_path):
    from vrbench.errors import InputError

    db, _, run = baselines_run
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "index.html").write_text("my own page")
    with Store(db) as store, pytest.raises(InputError, match="folder vrbench did not make"):
        make_study(store, run, tmp_path / "notes", max_frames=2)
    assert (tmp_path / "notes" / "index.html").read_text() == "my own page"
    with Store(db) as store:  # its own folder, again: fine
        make_study(store, run, tmp_path / "mine", max_frames=2)
        make_study(store, run, tmp_path / "mine", max_frames=2)


def test_fidelity_is_judged_beside_the_input_and_the_gt(study):
    index, _ = study
    html = index.read_text()
    page = json.loads(html.split('<script type="application/json" id="study-data">')[1].split("</script>")[0])
    for trial in page["trials"]:
        assert [r["name"] for r in trial["refs"]] == ["Input", "GT"]
        assert all(len(page["videos"][r["video"]]) == len(page["videos"][trial["left"]]) for r in trial["refs"])


@pytest.mark.browser
def test_study_page_records_and_exports_answers(study, tmp_path):
    from playwright.sync_api import sync_playwright

    index, key = study
    errors, outside = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        pg = browser.new_page(accept_downloads=True)
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        pg.goto(index.as_uri())
        assert pg.locator("#left").evaluate("i => i.naturalWidth") == 256
        pg.fill("#rater", "tester")
        pg.check("input[name=q-fidelity][value=left]")
        pg.check("input[name=q-overall][value=same]")
        pg.click("#next")
        pg.check("input[name=q-fidelity][value=right]")
        assert "2 of 9 answers" not in pg.text_content("#progress") and "3 of 9 answers" in pg.text_content("#progress")
        pg.click("#prev")
        assert pg.is_checked("input[name=q-fidelity][value=left]")  # answers survive navigation
        with pg.expect_download() as download:
            pg.click("#export")
        target = tmp_path / "answers.json"
        download.value.save_as(target)
        browser.close()
    assert errors == [] and outside == []
    exported = json.loads(target.read_text())
    assert exported["study"] == key["study"] and exported["rater"] == "tester" and len(exported["answers"]) == 3
    scores = gsb_scores(load_answers([target], key), key)
    assert set(scores["criterion"]) == {"fidelity", "overall"} and scores["n"].sum() == 6
