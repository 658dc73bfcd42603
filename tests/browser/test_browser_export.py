"""Export in a real browser (issue 6): the filtered case list → 导出 → the job's progress page
(reloading itself) → download an .xlsx whose rows are the list's rows, read back with openpyxl."""
from __future__ import annotations

import re

from openpyxl import load_workbook

from tests.browser.browsing import api, path_of, screenshot
from tests.casework import register, run_jobs

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


def list_rows(page) -> list[dict]:
    """The list's rows as the user sees them: number, title, type, state, unit."""
    out = []
    for row in page.locator("table.list tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        if len(cells) >= 5:
            out.append({"编号": cells[0], "标题": cells[1], "事项类型": cells[2], "状态": cells[3], "发生地": cells[4]})
    return out


def sheet_rows(path) -> list[dict]:
    """The workbook's data rows under its header row (the one that starts with 编号)."""
    wb = load_workbook(path, read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r and r[0] == "编号")
    header = [str(h) if h is not None else "" for h in rows[start]]
    return [dict(zip(header, r)) for r in rows[start + 1:] if r and r[0]]


def test_export_of_a_filtered_list_downloads_the_same_rows(app, open_page, web_county, tmp_path):
    cadre = api(app, web_county, "village.cadre")
    village = web_county.unit("T01D1V1")
    wanted = [register(cadre, village, title=f"导出核对：低保户走访{i}") for i in range(3)]
    register(cadre, village, title="不在筛选结果中的事项")
    register(api(app, web_county, "village.cadre2"), web_county.unit("T01D1V2"), title="导出核对：别村的事项")

    page = open_page(web_county, "village.cadre")
    page.get_by_role("link", name="事项", exact=True).click()
    page.get_by_label("关键词").fill("导出核对")
    page.get_by_label("类型").select_option("visits.visit")
    page.get_by_role("button", name="查询").click()
    # the filtered page, not the one being left: list_rows reads what is there without waiting
    # (CI once read the rows mid-navigation, before the filtered request had even been sent)
    expect(page).to_have_url(re.compile(r"[?&]q="))
    expect(page.locator("table.list tbody tr")).to_have_count(len(wanted))
    shown = list_rows(page)
    assert sorted(r["编号"] for r in shown) == sorted(c["number"] for c in wanted)  # only my village's, only matching

    page.get_by_role("button", name="按当前条件导出台账（Excel）").click()
    assert path_of(page).startswith("/jobs/")
    expect(page.get_by_role("progressbar")).to_be_visible()
    screenshot(page, "job-queued-1366")
    run_jobs(app)  # the worker (in-process queue, or a burst rq worker on Redis)
    link = page.get_by_role("link", name="下载")
    expect(link).to_be_visible(timeout=30_000)  # the page reloads itself every 2 s until the job is done
    expect(page.locator("main")).to_contain_text("100%")
    screenshot(page, "job-done-1366")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    rows = sheet_rows(saved)
    assert len(rows) == len(shown)
    by_number = {r["编号"]: r for r in rows}
    for r in shown:
        got = by_number[r["编号"]]
        assert got["标题"] == r["标题"] and got["事项类型"] == r["事项类型"] and got["状态"] == r["状态"], (got, r)
        assert r["发生地"] in str(got["发生地"])
