"""The demo report in headless Chromium: leaderboard, sorting, viewer zoom, images, no errors, no requests out."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def page(demo_report, open_offline):
    """The report opened from disk, with every request and console error recorded."""
    with open_offline(demo_report) as opened:
        yield opened


def _column(pg, table: str, col: int) -> list[str]:
    return pg.eval_on_selector_all(f"{table} tbody tr", f"rows => rows.map(r => r.cells[{col}].textContent.trim())")


def _values(pg, table: str, col: int) -> list[float]:
    return [float(v) for v in pg.eval_on_selector_all(
        f"{table} tbody tr", f"rows => rows.map(r => r.cells[{col}].getAttribute('data-value'))")]


def test_leaderboard_renders(page, evil_label):
    pg, _ = page
    board = "table.leaderboard"
    headers = pg.eval_on_selector_all(f"{board} thead th", "ths => ths.map(t => t.textContent.trim())")
    assert headers == ["Method", "avg. rank", "psnr-rgb ↑", "ssim-y ↑"]
    assert _column(pg, board, 0) == ["nearest", "bicubic", evil_label]  # the label shows as text
    assert pg.eval_on_selector(f"{board} td.best .v", "v => getComputedStyle(v).fontWeight") == "700"


def test_sorting_by_a_metric_puts_the_best_first_then_reverses(page):
    pg, _ = page
    board = "table.leaderboard"
    header = pg.locator(f"{board} thead th").nth(2)
    header.click()
    values = _values(pg, board, 2)
    assert values == sorted(values, reverse=True) and header.get_attribute("aria-sort") == "descending"
    assert _column(pg, board, 0)[-1] == "nearest"
    header.click()
    values = _values(pg, board, 2)
    assert values == sorted(values) and _column(pg, board, 0)[0] == "nearest"
    pg.locator(f"{board} thead th").nth(0).click()
    names = _column(pg, board, 0)
    assert names == sorted(names, key=str.lower)


def test_viewer_zooms_and_pans_every_panel_together(page):
    pg, _ = page
    viewer = pg.locator(".viewer").first
    viewer.locator("[data-act=in]").click()
    transforms = viewer.locator(".vbox img").evaluate_all("imgs => imgs.map(i => i.style.transform)")
    assert len(transforms) == 5 and len(set(transforms)) == 1 and "scale(2)" in transforms[0]
    box = viewer.locator(".vbox").first.bounding_box()
    pg.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    pg.mouse.wheel(0, -100)
    pg.mouse.down()
    pg.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.4)
    pg.mouse.up()
    after = viewer.locator(".vbox img").evaluate_all("imgs => imgs.map(i => i.style.transform)")
    assert len(set(after)) == 1 and "scale(2.5)" in after[0] and after[0] != transforms[0]
    assert viewer.locator(".zoom-level").text_content() == "2.5×"
    viewer.locator("[data-act=reset]").click()
    assert "scale(1)" in viewer.locator(".vbox img").first.evaluate("i => i.style.transform")


def test_frame_slider_and_clip_tabs(page):
    pg, _ = page
    viewer = pg.locator(".viewer").first
    first = viewer.locator(".vbox img").first.get_attribute("src")
    viewer.locator("input[type=range]").fill("3")
    assert viewer.locator(".frame-no").text_content().startswith("frame 9")  # consecutive frames 6-17
    assert viewer.locator(".vbox img").first.get_attribute("src") != first
    tabs = pg.locator(".tabs button")
    tabs.nth(1).click()
    assert pg.locator(".clip-panel").nth(1).is_visible() and not pg.locator(".clip-panel").nth(0).is_visible()


def test_every_image_loads(page):
    pg, _ = page
    broken = pg.eval_on_selector_all("img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                                            ".map(i => i.alt)")
    count = pg.eval_on_selector_all("img", "imgs => imgs.length")
    assert count >= 2 * 5 + 4 and broken == []


def test_no_console_errors_no_dialogs_and_no_request_leaves_the_file(page):
    pg, seen = page
    pg.reload()
    pg.wait_for_load_state("load")
    assert seen["errors"] == [] and seen["dialogs"] == []
    outside = [u for u in seen["requests"] if not u.startswith(("file:", "data:"))]
    assert outside == [] and any(u.startswith("file:") for u in seen["requests"])
