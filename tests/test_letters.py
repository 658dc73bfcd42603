"""Responsibility letters (责任书, issues 17 PAT-3, 18 SAF-3, 22 SCO-8): the core's one capability.

A throw-away plugin, ``ltrdemo``, declares a kind with ``sdk.Manifest(letters=…)`` and is loaded
into an app of its own; two counties switch it on. Exercised: the declaration, the batch for the
villages of a township, the 409 of a duplicate, the 404s of scope (another county, a unit outside
the subtree, a person), signing with a scan, withdrawing, the facts in the PDF, the county's own
text, the reminders with the clock frozen, and the Chinese page with a refused form kept.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import types

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select

from core import letters
from core.app import create_app, pingan
from core.context import Actor, acting_as
from core.letters import Letter
from core.models import Notification, OrgUnit, User
from core.sdk import LetterKind, Manifest, Permission
from tests.conftest import Client, load_tenant, make_token, web_login

KIND = "ltrdemo.joint_defence"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
THIS_YEAR = dt.date.today().year
JOINT_DEFENCE = LetterKind(
    key=KIND, title="治安联防责任书", title_en="Joint-defence letter",
    paragraphs=["为做好{年度}年度治安联防工作，{发文单位}与{责任方}签订本责任书，由{对方}监督落实。",
                "乙方落实“三包、两防、一举报”。", "签订日期：{签订日期}"],
    parties=("unit", "person", "member_unit"))
MANIFEST = Manifest(name="ltrdemo", title="责任书测试模块", title_en="Letters (test)", version="0.1",
                    permissions=[Permission("ltrdemo.use", "使用测试模块", "Use")], letters=[JOINT_DEFENCE])


def _plugin() -> types.ModuleType:
    module = types.ModuleType("ltrdemo_plugin")
    MANIFEST.hooks(module.__dict__)
    return module


@pytest.fixture(scope="module")
def world(config, app):
    other = create_app(config, extra_plugins={"ltrdemo": _plugin()})
    other.testing = True
    a, b = load_tenant(other), load_tenant(other)

    def token(t, user):
        return Client(other, t.host, {"Authorization": f"Bearer {make_token(other, t, user)}"})
    admin, township, other_admin = token(a, "county.admin"), token(a, "donghu.admin"), token(b, "county.admin")
    for c in (admin, other_admin):
        assert c.put("/api/modules/ltrdemo", json={"enabled": True}).status_code == 200
    return types.SimpleNamespace(app=other, a=a, b=b, admin=admin, township=township, other=other_admin)


def _villages(world, under: str = "T01") -> list[int]:
    with pingan(world.app).db.transaction(world.a.id) as s:
        path = s.scalar(select(OrgUnit.path).where(OrgUnit.id == world.a.unit(under)))
        return list(s.scalars(select(OrgUnit.id).where(OrgUnit.path.startswith(path), OrgUnit.level == "village",
                                                       OrgUnit.status == "active")))


def _batch(client, world, year=THIS_YEAR, **extra):
    return client.post("/api/letters/batch", json={"kind": KIND, "year": year, "under_unit_id": world.a.unit("T01"),
                                                   "level": "village", "counterparty": "社区民警", **extra})


def test_a_module_declares_a_kind_and_the_county_sees_it(world):
    host = pingan(world.app).plugins
    assert host.letter_kinds[KIND].plugin == "ltrdemo"
    kinds = world.admin.get("/api/letters/kinds").get_json()
    mine = next(k for k in kinds if k["key"] == KIND)
    assert mine["title"] == "治安联防责任书" and mine["parties"] == ["unit", "person", "member_unit"]
    assert mine["paragraphs"] == JOINT_DEFENCE.paragraphs and mine["customised"] is False
    assert mine["remind_month"] is None  # no reminder day until the county sets one
    with pytest.raises(ValueError, match="must be 'ltrdemo.<name>'"):
        LetterKind(key="other.x", title="某", paragraphs=["某"]).check("ltrdemo")
    with pytest.raises(ValueError, match="未知的占位符"):
        LetterKind(key="ltrdemo.x", title="某", paragraphs=["{甲方}"]).check("ltrdemo")
    with pytest.raises(ValueError, match="parties"):
        LetterKind(key="ltrdemo.x", title="某", paragraphs=["某"], parties=("household",)).check("ltrdemo")


def test_batch_creates_one_letter_per_village_of_the_township_and_skips_existing(world):
    villages = _villages(world)
    r = _batch(world.township, world, year=THIS_YEAR - 1)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["created"] == len(villages) > 3 and r.get_json()["skipped"] == 0
    again = _batch(world.township, world, year=THIS_YEAR - 1)
    assert again.get_json()["created"] == 0 and again.get_json()["skipped"] == len(villages)
    page = world.township.get(f"/api/letters?year={THIS_YEAR - 1}&kind={KIND}&limit=200").get_json()
    assert sorted(i["party_id"] for i in page["items"]) == sorted(villages) and page["next_cursor"] is None
    item = page["items"][0]
    assert item["issuing_unit_name"] == "东湖镇" and item["status"] == "unsigned" and item["counterparty"] == "社区民警"
    assert item["kind_title"] == "治安联防责任书"
    # a village outside the township is not in its list; another county sees none of them
    assert world.other.get(f"/api/letters?kind={KIND}").get_json()["items"] == []
    assert world.other.get(f"/api/letters/{item['id']}").status_code == 404


def test_a_duplicate_is_409_and_scope_is_404_at_the_field(world, monkeypatch):
    body = {"kind": KIND, "year": THIS_YEAR + 1, "issuing_unit_id": world.a.unit("T01"), "party_kind": "unit",
            "party_id": world.a.unit("T01D1V1")}
    r = world.township.post("/api/letters", json=body)
    assert r.status_code == 201, r.get_json()
    dup = world.township.post("/api/letters", json=body)
    assert dup.status_code == 409 and dup.get_json()["code"] == "duplicate_letter"
    with monkeypatch.context() as m:  # two requests at once: the table's unique key answers 409 too
        m.setattr(letters, "_exists", lambda *a: False)
        dup = world.township.post("/api/letters", json=body)
    assert dup.status_code == 409 and dup.get_json()["code"] == "duplicate_letter"
    # a village of another township: outside 东湖镇's subtree
    out = world.township.post("/api/letters", json={**body, "party_id": world.a.unit("T02")})
    assert out.status_code == 404 and "party_id" in str(out.get_json())
    out = world.township.post("/api/letters", json={**body, "issuing_unit_id": world.a.unit("C")})
    assert out.status_code == 404 and "issuing_unit_id" in str(out.get_json())
    # another county's unit and person
    foreign = world.township.post("/api/letters", json={**body, "party_id": world.b.unit("T01D1V2")})
    assert foreign.status_code == 404
    b_person = world.other.post("/api/persons", json={"name": "外县某", "org_unit_id": world.b.unit("T01D1V1")})
    assert b_person.status_code == 201, b_person.get_json()
    r = world.township.post("/api/letters", json={**body, "party_kind": "person", "party_id": b_person.get_json()["id"]})
    assert r.status_code == 404 and r.get_json()["code"] == "person_not_found"
    # a person of this county outside the township, then one inside: the letter names the person
    far = world.admin.post("/api/persons", json={"name": "青山某", "org_unit_id": world.a.unit("T02")}).get_json()
    r = world.township.post("/api/letters", json={**body, "party_kind": "person", "party_id": far["id"]})
    assert r.status_code == 404
    near = world.admin.post("/api/persons", json={"name": "联防组长王某", "org_unit_id": world.a.unit("T01D1V1")}).get_json()
    r = world.township.post("/api/letters", json={**body, "party_kind": "person", "party_id": near["id"]})
    assert r.status_code == 201 and r.get_json()["party_name"] == "联防组长王某"
    # an unknown kind, a kind not enabled
    r = world.township.post("/api/letters", json={**body, "kind": "ltrdemo.nothing"})
    assert r.status_code == 404 and r.get_json()["code"] == "kind_not_found"


def _letter(world, party="T01D1V3", year=THIS_YEAR) -> dict:
    r = world.township.post("/api/letters", json={"kind": KIND, "year": year, "issuing_unit_id": world.a.unit("T01"),
                                                  "party_kind": "unit", "party_id": world.a.unit(party),
                                                  "counterparty": "社区民警李某"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _sign(client, letter_id, day: str, scan: bytes | None = None):
    data = {"signed_on": day}
    if scan is not None:
        data["file"] = (io.BytesIO(scan), "扫描件.png")
    return client.post(f"/api/letters/{letter_id}/sign", data=data, content_type="multipart/form-data")


def _pdf_text(client, letter_id) -> str:
    r = client.get(f"/api/letters/{letter_id}/pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages).replace("\n", "")


def test_sign_with_a_scan_then_the_pdf_states_the_facts(world):
    letter = _letter(world, year=THIS_YEAR - 2)
    unsigned = _pdf_text(world.township, letter["id"])
    assert f"{THIS_YEAR - 2}年度治安联防责任书" in unsigned and "东湖镇" in unsigned and "林湾村" in unsigned
    assert "＿＿＿＿年＿＿月＿＿日" in unsigned  # blank lines to sign on paper
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    r = _sign(world.township, letter["id"], future)
    assert r.status_code == 422 and r.get_json()["code"] == "in_future"
    r = _sign(world.township, letter["id"], f"{THIS_YEAR - 2}-01-05", b"MZ\x90\x00not a scan")
    assert r.status_code == 415
    r = _sign(world.township, letter["id"], f"{THIS_YEAR - 2}-01-05", PNG)
    assert r.status_code == 200, r.get_json()
    signed = r.get_json()
    assert signed["status"] == "signed" and signed["signed_on"] == f"{THIS_YEAR - 2}-01-05" and signed["has_scan"]
    assert signed["scan_content_type"] == "image/png" and signed["scan_filename"] == "扫描件.png"
    scan = world.township.get(f"/api/letters/{letter['id']}/scan")
    assert scan.status_code == 200 and scan.data == PNG and scan.headers["Content-Security-Policy"] == "sandbox"
    assert _sign(world.township, letter["id"], f"{THIS_YEAR - 2}-01-06").status_code == 409
    text = _pdf_text(world.township, letter["id"])
    for fact in (f"{THIS_YEAR - 2}年度治安联防责任书", "甲方（发文单位）：东湖镇", "乙方（组织单位）：林湾村", "社区民警李某",
                 f"签订日期：{THIS_YEAR - 2}年1月5日", "三包、两防、一举报"):
        assert fact in text, fact
    assert "{" not in text and "＿＿＿＿年" not in text
    assert world.other.get(f"/api/letters/{letter['id']}/pdf").status_code == 404
    assert world.other.get(f"/api/letters/{letter['id']}/scan").status_code == 404


def test_withdraw_with_a_reason_once(world):
    letter = _letter(world, party="T01D1V4")
    assert world.township.post(f"/api/letters/{letter['id']}/withdraw", json={}).status_code == 422
    r = world.township.post(f"/api/letters/{letter['id']}/withdraw", json={"reason": "村已合并"})
    assert r.status_code == 200 and r.get_json()["status"] == "withdrawn" and r.get_json()["withdraw_reason"] == "村已合并"
    again = world.township.post(f"/api/letters/{letter['id']}/withdraw", json={"reason": "再次"})
    assert again.status_code == 409 and again.get_json()["code"] == "letter_withdrawn"
    assert _sign(world.township, letter["id"], dt.date.today().isoformat()).status_code == 409
    assert world.other.post(f"/api/letters/{letter['id']}/withdraw", json={"reason": "越权"}).status_code == 404
    assert "（已撤销）" in _pdf_text(world.township, letter["id"])


def test_the_countys_text_replaces_the_modules_and_is_checked(world):
    bad = world.admin.put(f"/api/letters/kinds/{KIND}", json={"paragraphs": ["{甲方}负责"]})
    assert bad.status_code == 422 and "未知的占位符" in str(bad.get_json())
    half = world.admin.put(f"/api/letters/kinds/{KIND}", json={"paragraphs": [], "remind_month": 1})
    assert half.status_code == 422 and "remind_day" in str(half.get_json())
    assert world.township.put(f"/api/letters/kinds/{KIND}", json={"paragraphs": []}).status_code == 403
    r = world.admin.put(f"/api/letters/kinds/{KIND}", json={"paragraphs": ["本县文本：{责任方}于{年度}年负责联防。"]})
    assert r.status_code == 200 and r.get_json()["customised"]
    letter = _letter(world, party="T01D1V5", year=THIS_YEAR - 3)
    assert "本县文本：杨河村于" in _pdf_text(world.township, letter["id"])
    r = world.admin.put(f"/api/letters/kinds/{KIND}", json={"paragraphs": []})  # back to the module's text
    assert r.status_code == 200 and not r.get_json()["customised"]
    assert "三包、两防、一举报" in _pdf_text(world.township, letter["id"])


def _remind(world, when: dt.datetime) -> int:
    state = pingan(world.app)
    with time_machine.travel(when, tick=False), acting_as(Actor(None, "test")), \
            state.db.transaction(world.a.id) as s:
        return letters.remind_due(s, state.plugins, state.plugins.enabled(s, world.a.id), when.date())


def test_reminders_start_on_the_configured_day_once_per_interval(world):
    year = 2031
    r = _batch(world.township, world, year=year)
    assert r.status_code == 201
    villages = r.get_json()["created"]
    with pingan(world.app).db.transaction(world.a.id) as s:  # one signed already: never reminded
        row = s.scalar(select(Letter).where(Letter.year == year).order_by(Letter.id))
        row.status, row.signed_on = "signed", dt.date(year, 1, 3)
    jan = lambda day: dt.datetime(year, 1, day, 9, tzinfo=letters.SHANGHAI)  # noqa: E731
    assert _remind(world, jan(20)) == 0  # no day configured: nobody is reminded
    assert world.admin.put(f"/api/letters/kinds/{KIND}", json={"remind_month": 1, "remind_day": 15,
                                                              "remind_every_days": 7}).status_code == 200
    assert _remind(world, jan(14)) == 0
    assert _remind(world, jan(15)) == villages - 1
    assert _remind(world, jan(16)) == 0 and _remind(world, jan(21)) == 0  # not twice in an interval
    assert _remind(world, jan(22)) == villages - 1
    with pingan(world.app).db.transaction(world.a.id) as s:
        township_user = s.scalar(select(User.id).where(User.username == "donghu.admin"))
        notes = s.scalars(select(Notification).where(Notification.user_id == township_user,
                                                     Notification.key.startswith("letter:"))).all()
    assert len(notes) == 2 * (villages - 1)
    assert all(n.title.endswith(f"的{year}年度治安联防责任书尚未签订") for n in notes)
    # the scheduler's entry point (core.jobs.CORE_JOBS "letter_reminders"): a week later, once more
    from core import jobs
    jobs.bind_state(pingan(world.app))
    with time_machine.travel(jan(29), tick=False):
        jobs.run_scheduled("core", "letter_reminders", world.a.id)
        jobs.run_scheduled("core", "letter_reminders", world.a.id)
    with pingan(world.app).db.transaction(world.a.id) as s:
        assert len(s.scalars(select(Notification).where(Notification.user_id == township_user,
                                                        Notification.key.startswith("letter:"))).all()) == 3 * (villages - 1)
    assert world.admin.put(f"/api/letters/kinds/{KIND}", json={"paragraphs": []}).status_code == 200  # off again


def visible_ascii_words(page: str) -> list[str]:
    """English words a user reads on the page (text, not markup), beyond the allowed ones."""
    import html as html_lib

    from tests.browser.test_browser_pages import ALLOWED_ASCII, ASCII_WORD
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(script|style|title)\b.*?</\1>", " ", page)))
    return [w for w in re.findall(ASCII_WORD, text) if w not in ALLOWED_ASCII]


def test_the_page_is_chinese_and_a_refused_form_keeps_its_input(world):
    c, r = web_login(world.app, world.a, "donghu.admin")
    assert r.status_code == 302
    home = c.get("/").get_data(as_text=True)
    assert 'href="/letters/"' in home and "责任书" in home
    _letter(world, party="T01D1V2", year=THIS_YEAR)
    page = c.get(f"/letters/?year={THIS_YEAR}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "治安联防责任书" in html and "未签订" in html and "郭岭村" in html
    assert "登记签订" in html and "撤销原因" in html and 'type="date"' in html and 'type="file"' in html
    assert visible_ascii_words(html) == []
    assert "村（社区）" in html  # the level select shows the county's names, not keys
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = re.search(r'name="form_token" value="([^"]+)"', html).group(1)
    refused = c.post("/letters/batch", data={"csrf_token": token, "form_token": form, "kind": KIND,
                                             "year": str(THIS_YEAR), "level": "village", "counterparty": "社区民警张某"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "社区民警张某" in body and 'id="under_unit_id-error"' in body
    assert re.search(rf'<option value="{KIND}" selected>治安联防责任书</option>', body)
    form = re.search(r'name="form_token" value="([^"]+)"', body).group(1)
    letter_id = world.township.get(f"/api/letters?year={THIS_YEAR}&under={world.a.unit('T01D1V2')}").get_json()["items"][0]["id"]
    refused = c.post(f"/letters/{letter_id}/withdraw", data={"csrf_token": token, "form_token": form})
    assert refused.status_code == 422 and f'id="w{letter_id}-reason-error"' in refused.get_data(as_text=True)
    # signing from the page: a date after today is refused at the field, the date kept; then signed with the scan
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    form = re.search(r'name="form_token" value="([^"]+)"', refused.get_data(as_text=True)).group(1)
    refused = c.post(f"/letters/{letter_id}/sign", content_type="multipart/form-data",
                     data={"csrf_token": token, "form_token": form, "signed_on": future})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "签订日期不能晚于今天" in body and f'value="{future}"' in body
    form = re.search(r'name="form_token" value="([^"]+)"', body).group(1)
    done = c.post(f"/letters/{letter_id}/sign", content_type="multipart/form-data",
                  data={"csrf_token": token, "form_token": form, "signed_on": dt.date.today().isoformat(),
                        "file": (io.BytesIO(PNG), "签字页.png")})
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    signed = world.township.get(f"/api/letters/{letter_id}").get_json()
    assert signed["status"] == "signed" and signed["scan_filename"] == "签字页.png"
    assert "已签订" in c.get(f"/letters/?year={THIS_YEAR}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/letters/").get_data(as_text=True)).group(1)
    assert c.post("/language", data={"csrf_token": token, "lang": "en", "next": "/letters/"}).status_code == 302
    en = c.get("/letters/").get_data(as_text=True)
    assert "Responsibility letters" in en and "Signed" in en and "Withdraw" in en  # English available
    assert "Filter" in visible_ascii_words(en)  # (the check above can see English words)
    c.post("/language", data={"csrf_token": token, "lang": "zh_CN", "next": "/letters/"})
    kind_page = web_login(world.app, world.a, "county.admin")[0].get(f"/letters/kinds/{KIND}").get_data(as_text=True)
    assert "{年度}" in kind_page and "{签订日期}" in kind_page and "<textarea" in kind_page and "不提醒" in kind_page
    assert visible_ascii_words(kind_page) == []


def test_a_module_switched_off_hides_its_letters_and_they_come_back(world):
    letter = _letter(world, party="T01D1V1", year=THIS_YEAR - 4)
    assert world.admin.put("/api/modules/ltrdemo", json={"enabled": False}).status_code == 200
    try:
        assert world.township.get(f"/api/letters/{letter['id']}").status_code == 404
        assert world.township.get(f"/api/letters?year={THIS_YEAR - 4}").get_json()["items"] == []
        assert world.township.get(f"/api/letters/{letter['id']}/pdf").status_code == 404
        assert KIND not in [k["key"] for k in world.admin.get("/api/letters/kinds").get_json()]
    finally:
        assert world.admin.put("/api/modules/ltrdemo", json={"enabled": True}).status_code == 200
    assert world.township.get(f"/api/letters/{letter['id']}").get_json()["status"] == "unsigned"
