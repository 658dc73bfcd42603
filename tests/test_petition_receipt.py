"""Issue 14, finding 9: staff cannot rate their own petitions.

- The query code (all a rating needs) is shown to no reader of the case — not in the API, not
  on the case page — only on the receipt: at its first printing by the user who registered the
  petition, within ``receipt_code_hours`` of registration, and otherwise only with
  ``petition.receipt.reprint`` (both on the timeline and in the audit log); and only on a
  deliberate printing (a POST with the CSRF token, or a token request), never on a cookie GET
  that another site can trigger.
- A rating records its channel: with a signed-in session (or token) it is refused; from the
  county's own networks it is recorded, flagged and left out of the satisfaction rate.
"""
from __future__ import annotations

import datetime as dt
import io
import re

import time_machine
from pypdf import PdfReader
from sqlalchemy import select

from core.audit import AuditEntry
from core.cases.models import Case
from core.context import Actor, acting_as
from core.models import Role, RoleAssignment, RolePermission, User
from core.workdays import SHANGHAI
from tests.casework import act
from tests.conftest import Client
from tests.test_petition import admin, county, person, petition  # noqa: F401  (fixtures)

CODE = re.compile(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}")
NOW = dt.datetime(2026, 11, 10, 10, 0, tzinfo=SHANGHAI)


def receipt_text(client, case_id: int, method: str = "POST", **kw) -> str:
    r = client.request(method, f"/api/cases/{case_id}/documents/petition.receipt", **kw)
    assert r.status_code == 200 and r.data.startswith(b"%PDF"), r.status_code
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages).replace(" ", "").replace("\n", "")


def receipt_code(client, case_id: int, method: str = "POST", **kw) -> str | None:
    """The query code printed on the case's receipt by ``client`` (None: not on this printing).
    A POST, as the case page's "打印回执" form sends it (with the CSRF token)."""
    found = CODE.search(receipt_text(client, case_id, method, **kw))
    return found.group(0) if found else None


def grant(db, county, username: str, perms: tuple[str, ...], unit: str | int = "C") -> None:
    with acting_as(Actor(None, "test")), db.transaction(county.id) as s:
        role = Role(key=f"r{len(perms)}{username.replace('.', '')}", name="补打回执")
        s.add(role)
        s.flush()
        s.add_all(RolePermission(role_id=role.id, permission=p) for p in perms)
        uid = s.scalar(select(User.id).where(User.username == username))
        s.add(RoleAssignment(user_id=uid, role_id=role.id,
                             org_unit_id=unit if isinstance(unit, int) else county.unit(unit)))


def printed(admin, case_id: int) -> list[bool]:
    return [e["data"]["reprint"] for e in admin.get(f"/api/cases/{case_id}/events").get_json()
            if e["kind"] == "petition.receipt_printed"]


def test_only_the_registrant_gets_the_code_and_only_soon_after_registration(app, db, county, login):
    # issue 14 finding 9: "first printing" meant "nobody printed it yet" — any register holder on
    # the case's unit or its handling unit could print it first, at any later time
    with time_machine.travel(NOW, tick=True):
        admin = login(county, "county.admin")
        case = petition(admin, county, [person(admin, county)])
        late = petition(admin, county, [person(admin, county)])
        with acting_as(Actor(None, "test")), db.transaction(county.id) as s:
            s.scalar(select(Case).where(Case.id == case["id"])).handling_unit_id = county.unit("T01")  # the township handles it
        officer = login(county, "county.viewer")   # registers petitions at the handling unit
        grant(db, county, "county.viewer", ("petition.read", "core.case.read", "petition.register"), "T01")
        assert receipt_code(officer, case["id"]) is None
        colleague = login(county, "village.cadre")  # a register holder of the same unit, later
    # later, within the sessions' 30 idle minutes (the admin's session is still open)
    with time_machine.travel(NOW + dt.timedelta(minutes=20), tick=True):
        grant(db, county, "village.cadre", ("petition.read", "core.case.read", "petition.register"), case["org_unit_id"])
        assert receipt_code(colleague, case["id"]) is None
        assert printed(admin, case["id"]) == []         # neither used up the first printing
        text = receipt_text(colleague, case["id"])
        assert "有补打回执权限的工作人员" in text        # says where to get it
        assert receipt_code(admin, case["id"]) is not None  # the registrant, within the period
    with time_machine.travel(NOW + dt.timedelta(hours=2, minutes=5), tick=True):
        admin = login(county, "county.admin")           # (the earlier session has timed out)
        assert receipt_code(admin, late["id"]) is None  # after receipt_code_hours (2): not even the registrant
        assert printed(admin, late["id"]) == []


def test_a_cross_site_get_neither_shows_the_code_nor_uses_up_the_first_printing(app, db, county, login, token_client):
    # issue 14 finding 9: the receipt was a GET with side effects; a link on another site sends
    # the SameSite=Lax cookie with it and used up the first printing
    admin = login(county, "county.admin")
    case = petition(admin, county, [person(admin, county)])
    bare = {k: v for k, v in admin.headers.items() if k != "X-CSRF-Token"}
    assert receipt_code(admin, case["id"], "GET", headers={"X-CSRF-Token": ""}) is None
    admin.headers, saved = bare, admin.headers
    assert receipt_code(admin, case["id"], "GET") is None
    r = admin.post(f"/api/cases/{case['id']}/documents/petition.receipt")  # a forged POST: no token
    assert r.status_code == 403 and r.get_json()["code"] == "csrf_failed"
    admin.headers = saved
    assert printed(admin, case["id"]) == []
    page = admin.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="petition-receipt"' in page and 'name="csrf_token"' in page  # the page's 打印回执 is a form
    csrf = saved["X-CSRF-Token"]
    r = admin.http.post(f"/api/cases/{case['id']}/documents/petition.receipt", base_url=f"http://{county.host}",
                        data={"csrf_token": csrf})
    assert r.status_code == 200 and CODE.search("".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
                                                .replace(" ", ""))
    assert printed(admin, case["id"]) == [False]
    # an API client with a token is not subject to CSRF: its GET is deliberate
    other = petition(admin, county, [person(admin, county)])
    api = token_client(county, "county.admin")
    assert receipt_code(api, other["id"], "GET") is not None


def test_the_query_code_is_printed_once_and_reprinted_only_with_the_permission(app, db, admin, county, login):
    # issue 14 finding 9: the code was in every reader's case view and on every printed receipt
    case = petition(admin, county, [person(admin, county)])
    assert "query_code" not in case["details"]
    viewer = login(county, "county.viewer")  # reads petitions, registers nothing
    grant(db, county, "county.viewer", ("petition.read", "core.case.read"))
    assert "query_code" not in viewer.get(f"/api/cases/{case['id']}").get_json()["details"]
    assert receipt_code(viewer, case["id"]) is None  # a reader's printing does not reveal it …
    code = receipt_code(admin, case["id"])            # … the registering office's first printing does
    assert code is not None
    for reader in (admin, viewer):
        assert code not in reader.get(f"/cases/{case['id']}").get_data(as_text=True)
        assert code not in reader.get(f"/api/cases/{case['id']}").get_data(as_text=True)
        assert code not in reader.get(f"/api/cases/{case['id']}/events").get_data(as_text=True)
    assert receipt_code(admin, case["id"]) is None    # a second printing without the permission
    grant(db, county, "county.viewer", ("petition.read", "core.case.read", "petition.receipt.reprint"))
    assert receipt_code(viewer, case["id"]) == code   # a reprint with it
    events = [e for e in admin.get(f"/api/cases/{case['id']}/events").get_json()
              if e["kind"] == "petition.receipt_printed"]
    assert [e["data"]["reprint"] for e in events] == [False, True]
    with db.transaction(county.id) as s:
        shown = s.scalars(select(AuditEntry.changes).where(AuditEntry.action == "petition.receipt_code_shown",
                                                          AuditEntry.object_id == str(case["id"]))
                          .order_by(AuditEntry.id)).all()
    assert [d["reprint"] for d in shown] == [False, True]
    perms = {p["code"]: p for p in admin.get("/api/permissions").get_json()}
    assert perms["petition.receipt.reprint"]["sensitive"] is True


def _answered(admin, county) -> tuple[dict, str]:
    case = petition(admin, county, [person(admin, county)])
    code = receipt_code(admin, case["id"])
    assert act(admin, case["id"], "accept", {}).status_code == 200
    assert act(admin, case["id"], "reply", {"outcome": "已协调处理"}).status_code == 200
    return case, code


def test_a_rating_records_its_channel_staff_sessions_are_refused_the_county_network_flagged(app, county, login):
    # issue 14 finding 9: the rating needed nothing but the code, from anyone, anywhere
    with time_machine.travel(NOW, tick=True):
        admin = login(county, "county.admin")
        staff, code_staff = _answered(admin, county)
        inside, code_inside = _answered(admin, county)
        outside, code_outside = _answered(admin, county)
        r = admin.post("/api/petition/public/status/rating", json={"code": code_staff, "rating": "satisfied"})
        assert r.status_code == 403 and r.get_json()["code"] == "rating_signed_in"
        page = admin.post("/petition/status", data={"code": code_staff, "rating": "satisfied"})
        assert page.status_code == 403 and "工作人员登录状态下不能评价" in page.get_data(as_text=True)
        anon = Client(app, county.host)
        r = anon.post("/api/petition/public/status/rating", json={"code": code_inside, "rating": "satisfied"},
                      environ_base={"REMOTE_ADDR": "10.20.30.40"})
        assert r.status_code == 200, r.get_json()
        r = anon.post("/api/petition/public/status/rating", json={"code": code_outside, "rating": "dissatisfied"},
                      environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert r.status_code == 200, r.get_json()
        channels = {}
        for case in (staff, inside, outside):
            got = admin.get(f"/api/cases/{case['id']}").get_json()
            rated = [e for e in admin.get(f"/api/cases/{case['id']}/events").get_json() if e["kind"] == "petition.rated"]
            channels[case["id"]] = ([e["data"]["channel"] for e in rated], "rating_internal" in got["flags"],
                                    got["details"]["rating"])
        assert channels == {staff["id"]: ([], False, None), inside["id"]: (["county_network"], True, "satisfied"),
                            outside["id"]: (["public"], False, "dissatisfied")}
        report = admin.get(f"/api/petition/reports/monthly?month={NOW:%Y-%m}").get_json()["total"]
        assert (report["rated"], report["satisfied_percent"]) == (1, 0.0)  # the flagged 满意 is not counted
