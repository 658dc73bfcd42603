"""Issue 13, parts 8 and 9: one way to show times — every API time ISO 8601 with its offset, a
limit's end named in an error with the words the page uses ("2026-09-02 24:00", never
"2026-09-03 00:00") — and a refused act on a web form keeps the form (what was typed, the
reason at the top), flags shown under their module's titles, never their keys. Flask's test
client; the clock frozen wherever an outcome depends on it."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from core.timefmt import iso, limit_end
from core.workdays import SHANGHAI
from tests.casework import act
from tests.test_mediation import AGREEMENT, MEDIATION_PERMS, dispute, two_parties

AUG_3 = dt.datetime(2026, 8, 3, 9, tzinfo=SHANGHAI)    # a Monday: the agreement takes effect
SEP_10 = dt.datetime(2026, 9, 10, 9, tzinfo=SHANGHAI)  # past the 30 days of Art. 33 (ended 2026-09-02 24:00)


@pytest.fixture
def county(app, fresh_tenant, login):
    """A county with the mediation module on and the village cadre a village mediator (every
    limit of these tests ends within 2026)."""
    admin = login(fresh_tenant, "county.admin")
    assert admin.put("/api/modules/mediation", json={"enabled": True}).status_code == 200
    role = admin.post("/api/roles", json={"key": "village_mediator", "name": "村调委会调解员",
                                          "permissions": MEDIATION_PERMS + ["core.case.handle"]})
    assert role.status_code == 201, role.get_json()
    users = {u["username"]: u["id"] for u in admin.get("/api/users?limit=200").get_json()["items"]}
    r = admin.post("/api/role-assignments", json={"user_id": users["village.cadre"], "role_id": role.get_json()["id"],
                                                  "org_unit_id": fresh_tenant.unit("T01D1V1")})
    assert r.status_code == 201, r.get_json()
    return fresh_tenant


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def top_notices(html: str) -> list[str]:
    """The messages at the top of the case page (before its first card)."""
    head = html.split('<section class="card">', 1)[0]
    return [re.sub(r"<[^>]+>", "", m) for m in re.findall(r'<p class="error notice" role="alert">(.*?)</p>', head, re.S)]


def form_of(html: str, form_id: str) -> str:
    m = re.search(rf'<form [^>]*id="{re.escape(form_id)}"[^>]*>(.*?)</form>', html, re.S)
    assert m, f"no form {form_id}"
    return m.group(1)


def test_the_time_helpers():
    """A limit counted in days ends at 24:00 of its last day (stored as the next 00:00); one in
    hours at its minute; the API's times are UTC with their offset, naive ones read as UTC."""
    assert limit_end(dt.datetime(2026, 10, 10, 0, 0, tzinfo=SHANGHAI)) == "2026-10-09 24:00"
    assert limit_end(dt.datetime(2026, 10, 9, 16, 0, tzinfo=dt.timezone.utc)) == "2026-10-09 24:00"
    assert limit_end(dt.datetime(2026, 10, 9, 17, 30, tzinfo=SHANGHAI)) == "2026-10-09 17:30"
    assert limit_end(dt.datetime(2026, 10, 10, 0, 0, tzinfo=SHANGHAI), "%Y年%m月%d日") == "2026年10月09日 24:00"
    assert limit_end(None) == ""
    assert iso(dt.datetime(2026, 9, 24, 10, 0, tzinfo=SHANGHAI)) == "2026-09-24T02:00:00+00:00"
    assert iso(dt.datetime(2026, 9, 24, 2, 0)) == "2026-09-24T02:00:00+00:00"
    assert iso(dt.date(2026, 9, 24)) == "2026-09-24"


def test_a_module_field_answers_iso_8601_with_offset(app, county, login):
    """A dispute's ``occurred_at`` (a module's field, in ``details``) was the HTTP date
    "Thu, 24 Sep 2026 02:00:00 GMT"; now ISO 8601 with its offset, like every API time."""
    cadre = login(county, "village.cadre")
    occurred = dt.datetime(2026, 9, 24, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(dt.datetime(2026, 9, 24, 10, 10, tzinfo=SHANGHAI), tick=False):
        case = dispute(cadre, county, parties=two_parties(cadre, county), emergency=True,
                       occurred_at=occurred.isoformat())
        assert act(cadre, case["id"], "accept", {"consent": True}).status_code == 200
    r = cadre.get(f"/api/cases/{case['id']}")
    assert "GMT" not in r.get_data(as_text=True)
    body = r.get_json()
    at = dt.datetime.fromisoformat(body["details"]["occurred_at"])
    assert at.tzinfo is not None and at == occurred
    consents = [p["consent_at"] for p in body["details"]["parties"] if p["consent_at"]]
    assert consents and all(dt.datetime.fromisoformat(c).tzinfo is not None for c in consents)
    for key in ("created_at", "due_at"):  # the core's own fields, as they always were
        assert dt.datetime.fromisoformat(body[key]).utcoffset() == dt.timedelta(0)


def _agreed_dispute(cadre, county) -> dict:
    with time_machine.travel(AUG_3, tick=False):
        case = dispute(cadre, county, parties=two_parties(cadre, county))
        assert act(cadre, case["id"], "accept", {"consent": True}).status_code == 200
        r = act(cadre, case["id"], "agree", {**AGREEMENT, "form": "oral", "parties_signed": False})
        assert r.status_code == 200, r.get_json()
    return case


def test_a_limit_end_in_a_409_uses_the_words_of_the_page(app, county, login):
    """Art. 33: 30 days from Mon 2026-08-03 end with Wed 09-02 (stored 09-03 00:00). The 409
    says "2026-09-02 24:00 届满" and the page shows the limit as 2026-09-02 24:00 — the same words."""
    cadre = login(county, "village.cadre")
    case = _agreed_dispute(cadre, county)
    with time_machine.travel(SEP_10, tick=False):
        r = act(cadre, case["id"], "apply_confirmation", {"court": "示范县人民法院"})
        page = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert r.status_code == 409 and r.get_json()["code"] == "confirmation_too_late"
    message = r.get_json()["message"]
    assert "2026-09-02 24:00 届满" in message and "2026-09-03" not in message
    limits = page.split("办理时限</h2>", 1)[1].split("</table>", 1)[0]
    assert "<td>当事人申请司法确认</td><td>2026-09-02 24:00" in limits
    assert "可申请至 2026-09-02 24:00" in page  # the module's panel says it the same way
    assert "2026-09-03 00:00" not in page


def test_a_refused_act_keeps_the_form_with_the_reason_at_the_top(app, county, login):
    """A late court confirmation posted from the case page: 409, the same case page (not an
    error page) with the reason in Chinese at the top and the form as it was typed."""
    cadre = login(county, "village.cadre")
    case = _agreed_dispute(cadre, county)
    with time_machine.travel(SEP_10, tick=False):
        page = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
        r = cadre.post(f"/cases/{case['id']}/act/apply_confirmation",
                       data={"csrf_token": csrf(page), "court": "示范县人民法院（手填）", "note": "当事人补交了身份证明"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert f"<h1>{case['number']}" in html  # the case page itself
    [notice] = top_notices(html)
    assert "司法确认须自调解协议生效之日起30日内申请" in notice and "2026-09-02 24:00 届满" in notice
    form = form_of(html, "act-apply_confirmation")
    assert 'value="示范县人民法院（手填）"' in form and "当事人补交了身份证明" in form and "<button" in form
    assert cadre.get(f"/api/cases/{case['id']}").get_json()["state"] == "agreed"


def test_a_second_decision_keeps_what_was_typed(app, county, login):
    """The agreement posted a second time (two tabs, a stale page): the state no longer offers it
    — 409 with the reason at the top, and the form stays under it with the text typed, without a
    button to post it again."""
    cadre = login(county, "village.cadre")
    case = _agreed_dispute(cadre, county)
    with time_machine.travel(AUG_3 + dt.timedelta(hours=1), tick=False):
        page = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
        assert 'id="act-agree"' not in page
        typed = {**{k: str(v) for k, v in AGREEMENT.items() if not isinstance(v, bool)},
                 "terms": "第二份协议：东侧界线后退半米"}
        r = cadre.post(f"/cases/{case['id']}/act/agree", data={"csrf_token": csrf(page), **typed})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    [notice] = top_notices(html)
    assert "不能执行" in notice
    form = form_of(html, "act-agree")
    assert "第二份协议：东侧界线后退半米" in form and "<button" not in form
    assert "不能办理，您填写的内容保留如下" in form


def test_a_late_return_keeps_the_task_form(app, login, fresh_tenant):
    """Art. 23: a diverted petition returned after its 5 working days, from the case page: 409,
    the reason at the top (its end in the page's words), the return and its reason still typed."""
    from tests.test_petition import petition
    admin = login(fresh_tenant, "county.admin")
    assert admin.put("/api/modules/petition", json={"enabled": True}).status_code == 200
    with time_machine.travel(dt.datetime(2026, 9, 1, 9, tzinfo=SHANGHAI), tick=False):  # Tue
        case = petition(admin, fresh_tenant)
        r = admin.post(f"/api/cases/{case['id']}/divert", json={"mode": "single", "tasks": [
            {"org_unit_id": fresh_tenant.unit("T01D1V2"), "instruction": "请办理"}]})
        assert r.status_code == 200, r.get_json()
        task = r.get_json()["tasks"][0]["id"]
    with time_machine.travel(dt.datetime(2026, 9, 21, 9, tzinfo=SHANGHAI), tick=False):
        page = admin.get(f"/cases/{case['id']}").get_data(as_text=True)
        r = admin.post(f"/cases/{case['id']}/tasks/{task}",
                       data={"csrf_token": csrf(page), "action": "return", "text": "不属本村职责，请改交国土所"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    [notice] = top_notices(html)
    assert "第二十三条" in notice and "2026-09-08 24:00 届满" in notice  # Tue 09-01 + 5 working days
    form = form_of(html, f"task-{task}")
    assert 'value="return"' in form and "不属本村职责，请改交国土所" in form  # the return button, the reason kept
    assert "<td>办理中</td>" in html and "<td>open</td>" not in html  # the task's state, titled


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_flags_show_their_titles_never_their_keys(app, county, login, lang):
    """MED-2: a dispute reported 25 minutes after the event is flagged ``emergency_late``: the page
    shows 突发事件迟报 (Emergency reported late in English), and a flag set later is named on the
    timeline."""
    cadre = login(county, "village.cadre")
    now = dt.datetime(2026, 9, 24, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(now, tick=False):
        case = dispute(cadre, county, emergency=True, occurred_at=(now - dt.timedelta(minutes=25)).isoformat())
        assert "emergency_late" in case["flags"]
        assert cadre.put(f"/api/cases/{case['id']}/flags/may_become_mass").status_code in (200, 204)
    if lang == "en":
        page = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
        assert cadre.post("/language", data={"csrf_token": csrf(page), "lang": "en"}).status_code in (302, 303)
    html = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    title, mass = (("突发事件迟报", "可能引发群体性事件") if lang == "zh_CN"
                   else ("Emergency reported late", "May become a mass incident"))
    assert f'<span class="tag">{title}</span>' in html
    assert f'<span class="tag">{mass}</span>' in html
    timeline = html.split('id="timeline"', 1)[1]
    assert mass in timeline
    assert "emergency_late" not in html and "may_become_mass" not in html


def test_a_refused_module_act_keeps_the_panel_form(app, login, fresh_tenant):
    """The petition module's risk assessment posted out of order (a stale page: the head's review
    before the handler's): 409 on the same case page, the reason at the top, the grade and the
    opinion as typed."""
    from tests.test_petition import petition
    admin = login(fresh_tenant, "county.admin")
    assert admin.put("/api/modules/petition", json={"enabled": True}).status_code == 200
    with time_machine.travel(dt.datetime(2026, 9, 1, 9, tzinfo=SHANGHAI), tick=False):
        case = petition(admin, fresh_tenant)
        page = admin.get(f"/cases/{case['id']}").get_data(as_text=True)
        r = admin.post(f"/petition/cases/{case['id']}/risk", data={
            "csrf_token": csrf(page), "level": "head", "grade": "high", "opinion": "信访人情绪激动，需重点关注"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    [notice] = top_notices(html)
    assert "请先完成“经办人评估”" in notice
    form = form_of(html, "petition-risk")
    assert '<option value="high" selected>' in form and "信访人情绪激动，需重点关注" in form


def test_a_refused_form_on_a_module_page_keeps_what_was_typed(app, login, fresh_tenant):
    """The quotas page: a level-skipping petition without its date is refused; the page says why
    at the top and the form keeps the petitioner, the level and the note."""
    admin = login(fresh_tenant, "county.admin")
    assert admin.put("/api/modules/petition", json={"enabled": True}).status_code == 200
    page = admin.get("/petition/quotas").get_data(as_text=True)
    village = fresh_tenant.unit("T01D1V1")
    r = admin.post("/petition/quotas", data={"csrf_token": csrf(page), "form": "escalation", "org_unit_id": village,
                                             "petitioner": "某丙", "level": "beijing", "note": "赴京上访，已劝返"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert '<p class="error" role="alert">' in html and "请检查" in html
    form = form_of(html, "escalation")
    assert 'value="某丙"' in form and "赴京上访，已劝返" in form
    assert f'<option value="{village}" selected>' in form and '<option value="beijing" selected>' in form


def test_an_extended_limit_is_named_on_the_timeline_as_on_the_page(app, login, fresh_tenant):
    """An approved extension's timeline entry says where the limit now ends, in the words of the
    limits table ("期限延至 … 24:00")."""
    from tests.casework import register
    admin, town = login(fresh_tenant, "county.admin"), login(fresh_tenant, "donghu.admin")
    assert admin.put("/api/modules/visits", json={"enabled": True}).status_code == 200
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=SHANGHAI), tick=False):
        case = register(town, fresh_tenant.unit("T01D1V1"))
        handle = next(d for d in act(town, case["id"], "accept").get_json()["deadlines"] if d["rule"] == "handle")
        r = town.post(f"/api/cases/{case['id']}/extensions",
                      json={"deadline_id": handle["id"], "amount": 5, "reason": "需补充调查"})
        assert r.status_code == 201, r.get_json()
        ext = r.get_json()["extensions"][0]
        r = admin.post(f"/api/cases/{case['id']}/extensions/{ext['id']}/decision", json={"approve": True, "note": "同意"})
        assert r.status_code == 200, r.get_json()
        due = next(d for d in r.get_json()["deadlines"] if d["id"] == handle["id"])["due_at"]
        html = town.get(f"/cases/{case['id']}").get_data(as_text=True)
    words = limit_end(dt.datetime.fromisoformat(due))
    assert words.endswith(" 24:00")
    assert f"同意；期限延至 {words}" in html.split('id="timeline"', 1)[1]
    assert f"<td>{words}" in html.split("办理时限</h2>", 1)[1]


def test_an_official_notice_names_the_limits_last_day(app, login, fresh_tenant):
    """The accept notice's "办理期限至…" is the limit's last day (ends 24:00), not the stored next day."""
    import io

    from pypdf import PdfReader

    from core.timefmt import limit_last_day
    from tests.test_petition import petition
    admin = login(fresh_tenant, "county.admin")
    assert admin.put("/api/modules/petition", json={"enabled": True}).status_code == 200
    with time_machine.travel(dt.datetime(2026, 9, 1, 9, tzinfo=SHANGHAI), tick=False):
        case = petition(admin, fresh_tenant)
        due = dt.datetime.fromisoformat(admin.get(f"/api/cases/{case['id']}").get_json()["due_at"])
        pdf = admin.get(f"/api/cases/{case['id']}/documents/petition.accept_notice")
    assert pdf.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).replace(" ", "").replace("\n", "")
    last = limit_last_day(due)
    assert due.astimezone(SHANGHAI).time() == dt.time(0) and last < due.astimezone(SHANGHAI).date()
    assert f"办理期限至{last.year}年{last.month}月{last.day}日" in text
