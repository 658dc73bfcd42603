"""The county admin's audit viewer in words (issue 15, item 9): one row per log-in, a change as
"字段：旧值 → 新值" in Chinese, no personal number ever, Beijing time, filters that are real
controls, pages, and no other county's entry. Driven through Flask's test client; the browser
side (phone width, the ASCII sweep) is tests/browser/test_browser_audit.py."""
from __future__ import annotations

import datetime as dt
import html as htmllib
import re

import pytest
import time_machine

from core.audit import verify
from core.audit_labels import AuditLabels, check
from tests.conftest import load_tenant, web_login

ROW = re.compile(r'<tr class="audit-entry" id="audit-(\d+)" data-action="([^"]*)">(.*?)</tr>', re.S)
CELL = re.compile(r'<td class="audit-(\w+)[^"]*"[^>]*>(.*?)</td>', re.S)


def text(fragment: str) -> str:
    spaced = re.sub(r"</?(?:li|ul|td|br)\b[^>]*>", " ", fragment)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", "", spaced))).strip()


def rows(page: str) -> list[dict]:
    """The table's entries: id, action code, and each cell's text."""
    out = []
    for ident, code, body in ROW.findall(page):
        cells = {k: text(v) for k, v in CELL.findall(body)}
        out.append({"id": int(ident), "code": code, **cells})
    return out


def user_id(admin, username: str) -> int:
    return next(u["id"] for u in admin.all_items("/api/users") if u["username"] == username)


def viewer(admin, query: str = "", status: int = 200) -> str:
    r = admin.get(f"/admin/audit{query}")
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    return r.get_data(as_text=True)


def test_a_login_shows_as_one_row_and_the_log_keeps_both_entries(app, fresh_tenant, login, db):
    admin = login(fresh_tenant, "county.admin")
    cadre = user_id(admin, "village.cadre")
    login(fresh_tenant, "village.cadre")  # writes `login` and the account's `update` (last_login_at)
    stored = admin.get(f"/api/audit?object_type=app_user&object_id={cadre}").get_json()["items"]
    assert [e["action"] for e in stored[:2]] == ["update", "login"], stored[:2]  # both recorded …
    assert "last_login_at" in stored[0]["changes"]
    with db.transaction(fresh_tenant.id) as s:
        assert verify(s, fresh_tenant.id).ok  # … and the chain is whole
    mine = rows(viewer(admin, f"?actor={cadre}"))
    assert [r["code"] for r in mine] == ["login"], mine  # … shown as one row
    assert mine[0]["action"] == "登录" and "村综治专干" in mine[0]["who"] and "罗塘村" in mine[0]["who"]
    assert "IP 地址：10.0.0.1" in mine[0]["changes"]
    # the companion never shows as a row of its own, whatever the filter
    everything = rows(viewer(admin, "?object_type=app_user"))
    assert stored[0]["id"] not in {r["id"] for r in everything}
    assert stored[1]["id"] in {r["id"] for r in everything}


def test_a_failed_count_reset_at_log_in_shows_on_the_login_row(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    login(fresh_tenant, "village.cadre")  # from now on a known address: a failure there counts on the account
    web_login(app, fresh_tenant, "village.cadre", "wrong-password-1")
    login(fresh_tenant, "village.cadre")
    cadre = user_id(admin, "village.cadre")
    mine = rows(viewer(admin, f"?actor={cadre}&action=login"))
    assert len(mine) == 2 and "连续登录失败次数：1 → 0" in mine[0]["changes"], mine


def test_an_edited_user_shows_chinese_field_old_and_new(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    cadre = user_id(admin, "village.cadre")
    r = admin.patch(f"/api/users/{cadre}", json={"display_name": "罗塘村专干（新）"})
    assert r.status_code == 200, r.get_json()
    page = viewer(admin, f"?object_type=app_user&object_id={cadre}&action=update")
    found = rows(page)
    assert found and found[0]["action"] == "修改", found
    assert found[0]["object"] == "用户账号：罗塘村专干（新）"
    assert "姓名：罗塘村综治专干 → 罗塘村专干（新）" in found[0]["changes"], found[0]
    assert "{" not in found[0]["changes"] and "display_name" not in page


def test_a_phone_change_never_shows_the_number(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    cadre = user_id(admin, "village.cadre")
    assert admin.patch(f"/api/users/{cadre}", json={"phone": "13912345678"}).status_code == 200
    page = viewer(admin, f"?object_type=app_user&object_id={cadre}")
    found = [r for r in rows(page) if r["code"] == "update"]
    assert found and "电话：已修改" in found[0]["changes"], found
    assert "13912345678" not in page and "5678" not in page and "***" not in page


def test_a_person_created_shows_no_id_number_or_phone(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    r = admin.post("/api/persons", json={"name": "审计查看人", "org_unit_id": fresh_tenant.unit("T01D1V1"),
                                         "id_number": "11010519491231002X", "phone": "13800001111"})
    assert r.status_code == 201, r.get_json()
    page = viewer(admin, f"?object_type=person&object_id={r.get_json()['id']}")
    found = rows(page)
    assert found and found[0]["object"] == "人员：审计查看人", found
    assert "身份证号：已填写" in found[0]["changes"] and "电话：已填写" in found[0]["changes"]
    assert "1949" not in page and "13800001111" not in page and "bidx" not in page


def test_times_are_beijing_time_and_days_are_beijing_days(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    cadre = user_id(admin, "village.cadre")
    # 16:30 UTC on 1 March is 00:30 on 2 March in Beijing: the day differs too
    with time_machine.travel(dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.timezone.utc), tick=False):
        assert admin.patch(f"/api/users/{cadre}", json={"display_name": "跨日修改"}).status_code == 200
    query = f"?object_type=app_user&object_id={cadre}&action=update"
    found = rows(viewer(admin, query))
    assert found[0]["at"] == "2026-03-02 00:30", found[0]
    assert [r["id"] for r in rows(viewer(admin, query + "&since=2026-03-02&until=2026-03-02"))] == [found[0]["id"]]
    assert rows(viewer(admin, query + "&since=2026-03-01&until=2026-03-01")) == []


def test_filters_by_actor_action_object_type_and_dates(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    calendar = admin.get("/admin/calendar").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', calendar).group(1)
    admin.post("/admin/calendar", data={"csrf_token": token, "day": "2032-01-05", "kind": "rest", "note": "审计查看测试"})
    me = user_id(admin, "county.admin")
    page = viewer(admin)
    # real controls: selects with Chinese words, date pickers
    assert re.search(r'<option value="login"[^>]*>登录</option>', page)
    assert re.search(r'<option value="calendar_day"[^>]*>本县调休日</option>', page)
    assert re.search(rf'<option value="{me}"[^>]*>县综治中心管理员</option>', page)
    assert 'type="date" id="since"' in page and 'type="date" id="until"' in page
    found = rows(viewer(admin, f"?actor={me}&object_type=calendar_day"))
    assert found and all(r["code"] == "create" and r["object"].startswith("本县调休日") for r in found), found
    assert any("备注：审计查看测试" in r["changes"] and "上班：否" in r["changes"] for r in found), found
    assert all(r["code"] == "login" for r in rows(viewer(admin, "?action=login")))
    assert rows(viewer(admin, "?object_type=calendar_day&until=2020-01-01")) == []
    system = rows(viewer(admin, "?actor=system"))
    assert system and all("县综治中心管理员" not in r["who"] for r in system)
    bad = viewer(admin, "?since=yesterday&until=2020-01-01", status=422)
    assert "日期格式应为 2026-01-31" in bad
    assert "截止日期不能早于起始日期" in viewer(admin, "?since=2026-02-01&until=2026-01-01", status=422)


def test_pages_go_back_and_forth(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    for i in range(3):  # well over one page of entries (a county's loading is one)
        r = admin.put("/api/modules/petition", json={"enabled": i % 2 == 0})
        assert r.status_code == 200, r.get_json()
    for i in range(50):
        r = admin.post("/api/org-units", json={"parent_id": fresh_tenant.unit("T01D1V1"), "name": f"第{i}网格", "level": "grid"})
        assert r.status_code == 201, r.get_json()
    first = viewer(admin)
    one = rows(first)
    assert len(one) == 50 and 'id="audit-newer"' not in first
    href = htmllib.unescape(re.search(r'<a href="([^"]+)" id="audit-next"', first).group(1))
    assert f"before={one[-1]['id']}" in href
    second_page = admin.get(href).get_data(as_text=True)
    two = rows(second_page)
    assert two and max(r["id"] for r in two) < min(r["id"] for r in one)
    back = htmllib.unescape(re.search(r'<a href="([^"]+)" id="audit-newer"', second_page).group(1))
    assert [r["id"] for r in rows(admin.get(back).get_data(as_text=True))] == [r["id"] for r in one]


def test_another_countys_entries_never_show(app, fresh_tenant, login):
    other = load_tenant(app)
    stranger = login(other, "county.admin")
    r = stranger.patch(f"/api/users/{user_id(stranger, 'village.cadre')}", json={"display_name": "外县专干改名"})
    assert r.status_code == 200
    foreign_entry = stranger.get("/api/audit?action=update&object_type=app_user").get_json()["items"][0]
    foreign_user = user_id(stranger, "county.admin")
    admin = login(fresh_tenant, "county.admin")
    for query in ("", "?object_type=app_user", f"?object_id={foreign_entry['object_id']}", "?action=update"):
        page = viewer(admin, query)
        assert "外县专干改名" not in page
    mine = {r["id"]: r for r in rows(viewer(admin, f"?object_id={foreign_entry['object_id']}"))}
    assert all("外县" not in r["changes"] for r in mine.values())
    # a user of another county as the actor filter: not in scope, as any foreign object
    assert admin.get(f"/admin/audit?actor={foreign_user}").status_code == 404
    assert admin.get("/admin/audit?actor=nobody.here").status_code == 404
    assert f'value="{foreign_user}"' not in viewer(admin)


def test_only_the_county_wide_audit_permission_opens_it(app, fresh_tenant, login):
    assert login(fresh_tenant, "donghu.admin").get("/admin/audit").status_code == 403
    assert login(fresh_tenant, "village.cadre").get("/admin/audit").status_code == 403


def test_a_plugins_own_words_and_the_fallback(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    assert admin.put("/api/modules/petition", json={"enabled": True}).status_code == 200
    r = admin.put("/api/petition/quotas", json={"quotas": [{"org_unit_id": fresh_tenant.unit("T01"), "period": "2026",
                                                            "kind": "abnormal", "quota": 3}]})
    assert r.status_code == 200, r.get_json()
    found = rows(viewer(admin, "?action=petition.quota_set"))
    assert found and found[0]["action"] == "设定上访指标", found
    assert "非正常访" in found[0]["changes"] and "指标：3" in found[0]["changes"], found[0]


def test_a_plugin_may_only_name_its_own_actions_and_tables():
    assert check("visits", AuditLabels(actions={"visits.greet": "问候"}, object_types={"visits_greeting": "问候"},
                                      fields={"recipient": "问候对象", "visits_visit.result": "结果"}))
    for bad in (AuditLabels(actions={"petition.rated": "冒名"}), AuditLabels(object_types={"app_user": "冒名"}),
                AuditLabels(fields={"app_user.phone": "冒名"})):
        with pytest.raises(ValueError):
            check("visits", bad)
    with pytest.raises(ValueError):
        check("visits", {"actions": {}})


def test_an_unlabelled_plugin_action_falls_back_to_chinese(app):
    from core.audit_labels import Vocabulary
    vocab = Vocabulary({"visits": None}, {"visits": ("问候（示例模块）", "Greetings")})
    zh = lambda a, b=None: a  # noqa: E731
    assert vocab.action("visits.unnamed", "case", zh) == "问候（示例模块）：其他操作"
    assert vocab.object_type("visits_unnamed", zh) == "问候（示例模块）模块的记录"
    assert vocab.field("update", "visits_unnamed", "result", zh) is None  # not the core's "结果"
    assert vocab.field("update", "visits_unnamed", "org_unit_id", zh) == "所属单位"


# modules that give no words yet: their entries show "<module>：其他操作" (strict — once the module
# implements pingan_audit_labels, take it off this list)
NO_WORDS_YET: dict[str, str] = {}


def test_every_recorded_action_has_a_chinese_label(app):
    """Every literal action passed to ``record(`` in core/ and plugins/ has a label — the core's in
    core/audit_labels.py, a module's from its pingan_audit_labels."""
    from core.app import pingan
    from core.web.admin.audit import vocabulary
    from tests.conftest import ROOT
    host = pingan(app).plugins
    with app.app_context():
        vocab = vocabulary()
    found = set()
    for path in [*(ROOT / "core").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]:
        for m in re.finditer(r'\brecord\(\s*[\w.]+,\s*"([a-z_.]+)"', path.read_text(encoding="utf-8")):
            found.add(m.group(1))
    assert {"login", "logout", "reset_password", "petition.rated"} <= found  # the scan itself works
    missing = sorted(a for a in found if a not in vocab.actions and a.split(".")[0] not in NO_WORDS_YET)
    assert missing == [], missing
    for plugin in NO_WORDS_YET:
        assert host.plugins[plugin].audit_labels is None, f"{plugin} has words now: take it off NO_WORDS_YET"


def test_every_table_of_a_module_with_words_has_a_name(app):
    """A module that gives words names every table of its own (``<plugin>_…``) and every column
    of them that is not an id, so no audit row of its tables reads "…模块的记录" or a bare key."""
    from core.app import pingan
    from core.db import Base
    from core.audit_labels import CORE, HIDDEN
    host = pingan(app).plugins
    missing = []
    for name, plugin in host.plugins.items():
        labels = plugin.audit_labels
        if labels is None:
            continue
        for table in Base.metadata.tables.values():
            if not table.name.startswith(f"{name}_"):
                continue
            if table.name not in labels.object_types:
                missing.append(table.name)
            for column in table.columns:
                if column.name in HIDDEN or column.name in CORE.fields or column.name.endswith("_id"):
                    continue  # bookkeeping, a reference, or a field the core names for every table
                if f"{table.name}.{column.name}" not in labels.fields and column.name not in labels.fields:
                    missing.append(f"{table.name}.{column.name}")
    assert missing == [], missing


@pytest.mark.parametrize("outcome,word", [("case", "已转为事项"), ("reported_up", "已上报"), ("referred", "解释并引导")])
def test_every_outcome_of_a_matter_at_the_window_reads_in_chinese(county, login, outcome, word):
    """The intake's outcome codes as stored (core.api.intake.OUTCOMES) each have a word: a matter
    made a case once showed the bare code "case" on the page."""
    from core.api.intake import OUTCOMES
    from core.audit_labels import CORE
    assert set(OUTCOMES) <= set(CORE.values["intake.outcome"])
    town = login(county, "donghu.admin")
    body = {"channel": "visit", "org_unit_id": county.unit("T01"), "subject": "邻里宅基地边界纠纷",
            "content": "两户因宅基地边界发生争执"}
    row = town.post("/api/intake", json=body).get_json()
    if outcome == "case":
        r = town.post(f"/api/intake/{row['id']}/sort", json={"case_type": "visits.visit", "details": {"visit_kind": "home"}})
    else:
        r = town.post(f"/api/intake/{row['id']}/close", json={"outcome": outcome, "note": "已说明", "to": "县信访局"})
    assert r.status_code == 200, r.get_json()
    admin = login(county, "county.admin")
    found = [e for e in rows(viewer(admin, f"?object_type=intake&object_id={row['id']}")) if e["code"] == "update"]
    assert found and word in found[0]["changes"] and f"：{outcome}" not in found[0]["changes"], found
