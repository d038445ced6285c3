"""Every dataset card loads, and every layout a card accepts is detected and paired on a miniature replica."""

from __future__ import annotations

import pytest
from dataset_replicas import FRAMES, GT_HW, build

from vrbench.data.base import DatasetCard, parse_lq_source
from vrbench.data.dataset import Dataset
from vrbench.errors import InputError
from vrbench.paths import catalog_dir
from vrbench.registry import DATASETS

EXPECTED = {"spmcs", "udm10", "reds30", "reds4", "youhq40", "videolq", "aigc28", "ugc50", "aigc50", "mvsr4x",
            "genwarp480", "demo", "folder"}
CASES = [(c.name, layout) for c in DATASETS.cards() if c.name != "demo" for layout in c.layouts]


def test_the_catalog_has_every_card_of_the_issue():
    assert set(DATASETS.names()) >= EXPECTED
    for card in DATASETS.cards():
        assert card.summary and card.layouts and card.kind
        if card.kind == "synthetic-paired":
            assert card.gt == "required" and card.clips


def test_unknown_keys_and_bad_values_in_a_card_are_errors(tmp_path):
    good = (catalog_dir("datasets") / "udm10.yaml").read_text()
    (tmp_path / "a.yaml").write_text(good + "\nclipz: 3\n")
    with pytest.raises(InputError, match="unknown keys in dataset card.*clipz"):
        DatasetCard.from_yaml(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text(good.replace("layouts: [canonical,", "layouts: [sideways,"))
    with pytest.raises(InputError, match="unknown layout.*sideways"):
        DatasetCard.from_yaml(tmp_path / "b.yaml")
    (tmp_path / "c.yaml").write_text(good.replace("lq_source: released", "lq_source: degrade:bicubic-x4"))
    with pytest.raises(InputError, match="malformed LQ source"):
        DatasetCard.from_yaml(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text(good.replace("  - {variant: dove,", "  - {varient: dove,"))
    with pytest.raises(InputError, match="unknown keys in a download entry.*varient"):
        DatasetCard.from_yaml(tmp_path / "d.yaml")


def test_lq_source_grammar():
    assert str(parse_lq_source("released")) == "released"
    assert parse_lq_source("released:BDx4").variant == "BDx4"
    src = parse_lq_source("degrade:realbasicvsr-x4:7")
    assert (src.kind, src.preset, src.seed) == ("degrade", "realbasicvsr-x4", 7)


def _names(card: DatasetCard, layout: str) -> tuple[list[str], str]:
    if layout == "reds":
        select = card.layout_options["reds"]["select"][0]
        clips = select["clips"]
        names = list(clips[:2]) if isinstance(clips, list) else ["000", "001"]
        return names, select["split"]
    if layout == "vimeo":
        return ["00001_0266", "00001_0268"], "val"
    return (list(card.clip_names[:2]) or ["clip-a", "clip-b"]), "val"


@pytest.mark.parametrize(("name", "layout"), CASES, ids=[f"{n}-{lay}" for n, lay in CASES])
def test_each_accepted_layout_is_detected_and_paired(name, layout, tmp_path, bbb_frames):
    card = DATASETS.card(name)
    names, split = _names(card, layout)
    flat = layout == "flat"
    # a flat folder holds GT when the card requires GT, LQ otherwise
    has_gt = card.gt == "required" if flat else card.gt != "none"
    build(layout, tmp_path / "set", bbb_frames, names, scale=card.scale, gt=has_gt,
          lq=not (flat and has_gt), reds_split=split)
    dataset = DATASETS.create(name, root=tmp_path / "set")
    clips = dataset.clips()
    assert dataset.report.found.layout == layout
    if flat and card.gt == "required":
        # a GT-only folder: the LQ is made by `prepare`, and loading it raw says so for every clip
        assert clips == [] and [p.clip for p in dataset.problems] == names
        assert all("no LQ input" in str(p) for p in dataset.problems)
        if card.lq.kind == "degrade":
            assert all(f"vrbench datasets prepare {name}" in str(p) for p in dataset.problems)
        return
    assert [c.name for c in clips] == names and dataset.problems == []
    for clip in clips:
        assert clip.lq is not None and clip.lq.num_frames == FRAMES
        assert clip.lq.size == (GT_HW[0] // card.scale, GT_HW[1] // card.scale)
        if has_gt:
            assert clip.gt.size == GT_HW and clip.gt.num_frames == FRAMES
        else:
            assert clip.gt is None
        assert clip.meta["layout"] == layout


def test_a_set_inside_a_bigger_download_is_found_by_its_folder_name(tmp_path, bbb_frames):
    build("dove", tmp_path / "test" / "UDM10", bbb_frames, ["archpeople", "band"])
    build("dove", tmp_path / "test" / "SPMCS", bbb_frames, ["calendar"])
    udm10 = DATASETS.create("udm10", root=tmp_path)
    assert [c.name for c in udm10.clips()] == ["archpeople", "band"]
    assert udm10.report.found.root.name == "UDM10"
    assert any("2 clips found; the card expects 10" in n for n in udm10.report.notes)
    assert any("missing clips: archwall" in n for n in udm10.report.notes)
    folder = Dataset(DATASETS.card("folder"), tmp_path)
    with pytest.raises(InputError, match="several candidate sets.*(SPMCS|UDM10)"):
        folder.clips()
