"""Tenant isolation over every endpoint, generated from the URL map (issue 2).

For each URL rule that takes an object id: tenant A's county admin, holding every
permission, uses an id that exists in tenant B — with every method the rule allows. The
answer must be 404, exactly as for an id that exists nowhere. For each list endpoint: no id
of any of B's rows appears in A's answer (ids come from one platform-wide sequence, so any
overlap is a leak).

A rule this test does not know makes it fail: add the table its id comes from to
``ID_TABLES`` (and a valid body to ``BODIES`` if its writes need one). The machinery is the
testing kit's (core/testing/isolation.py), which a plugin runs over its own routes with
``assert_plugin_isolation``; the tables and bodies here are the platform's.
"""
from __future__ import annotations

import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.testing.isolation import Matrix, all_ids, api_rules, id_rule_leaks, list_leaks, out_of_scope_leaks
from core.testing.isolation import upload as _upload
from tests.conftest import Client, load_tenant, make_token

# rule (as in the URL map) → the table whose id fills the rule's one id argument
ID_TABLES = {
    "/api/org-units/<unit_id>": "org_unit",
    "/api/org-units/<unit_id>/move": "org_unit",
    "/api/org-units/<unit_id>/retire": "org_unit",
    "/api/org-units/<unit_id>/ancestors": "org_unit",
    "/api/users/<user_id>": "app_user",
    "/api/users/<user_id>/lock": "app_user",
    "/api/users/<user_id>/unlock": "app_user",
    "/api/users/<user_id>/reset-password": "app_user",
    "/api/roles/<role_id>": "role",
    "/api/roles/<role_id>/extend": "role",
    "/api/role-assignments/<assignment_id>": "role_assignment",
    "/api/member-units/<item_id>": "member_unit",
    "/api/network-roles/<item_id>": "network_role",
    "/api/persons/<person_id>": "person",
    "/api/tokens/<token_id>": "access_token",
    "/api/oauth-clients/<client_id>": "oauth_client",
    "/api/oauth-clients/<client_id>/secret": "oauth_client",
    "/api/visits/greetings/<greeting_id>": "visits_greeting",
    "/api/hello/greetings/<record_id>": "hello_greeting",  # a declared register (core.api.registers)
    "/api/hello/greetings/<record_id>/close": "hello_greeting",
    "/api/cases/<case_id>": "case_record",
    "/api/cases/<case_id>/events": "case_record",
    "/api/cases/<case_id>/transitions/<name>": "case_record",
    "/api/cases/<case_id>/divert": "case_record",
    "/api/cases/<case_id>/assign": "case_record",
    "/api/cases/<case_id>/comments": "case_record",
    "/api/cases/<case_id>/flags/<flag>": "case_record",
    "/api/cases/<case_id>/extensions": "case_record",
    "/api/cases/<case_id>/supervisions": "case_record",
    "/api/cases/<case_id>/tasks/<task_id>": "case_record",
    "/api/cases/<case_id>/follow-ups": "case_record",
    "/api/cases/<case_id>/extensions/<extension_id>/decision": "case_record",
    "/api/cases/<case_id>/supervisions/<supervision_id>/reply": "case_record",
    "/api/cases/<case_id>/attachments": "case_record",
    "/api/cases/<case_id>/attachments/<attachment_id>": "case_record",
    "/api/cases/<case_id>/documents": "case_record",
    "/api/cases/<case_id>/documents/<key>": "case_record",
    "/api/inbox/<notification_id>/read": "notification",
    "/api/intake/<intake_id>": "intake",
    "/api/intake/<intake_id>/sort": "intake",
    "/api/intake/<intake_id>/close": "intake",
    "/api/jobs/<job_id>": "job_run",
    "/api/jobs/<job_id>/result": "job_run",
    "/api/cases/<case_id>/persons": "case_record",
    "/api/cases/<case_id>/persons/<person_id>": "case_record",
    "/api/petition/cases/<case_id>/leader": "case_record",
    "/api/petition/cases/<case_id>/leader/end": "case_record",
    "/api/petition/cases/<case_id>/risk": "case_record",
    "/api/petition/cases/<case_id>/situation-report": "case_record",
    "/api/petition/cases/<case_id>/joint-decision": "case_record",
    "/api/petition/watch/<watch_id>/end": "petition_watch",
    "/api/petition/watch/<watch_id>/followups": "petition_watch",
    "/api/petition/followups/<followup_id>/done": "petition_followup",
    "/api/petition/accountability/<acc_id>/close": "petition_accountability",
    "/api/mediation/disputes/<case_id>/escalate": "case_record",
    "/api/mediation/disputes/<case_id>/trace": "case_record",
    "/api/mediation/disputes/<case_id>/parties": "case_record",
    "/api/mediation/disputes/<case_id>/sessions": "case_record",
    "/api/mediation/disputes/<case_id>/agreement": "case_record",
    "/api/mediation/disputes/<case_id>/agreement/confirmation": "case_record",
    "/api/mediation/disputes/<case_id>/agreement/draft": "case_record",
    "/api/mediation/disputes/<case_id>/followups": "case_record",
    "/api/mediation/referrals/<referral_id>/outcome": "mediation_referral",
    "/api/mediation/registers/<kind>/<entry_id>/resolve": "mediation_register",
    "/api/safety/places/<place_id>": "safety_place",
    "/api/safety/checklists/<checklist_id>": "safety_checklist",
    "/api/safety/inspections/<inspection_id>": "safety_inspection",
    "/api/safety/inspections/<inspection_id>/answers/<item_id>/photo": "safety_inspection",
    "/api/safety/incidents/<incident_id>": "safety_incident",
    "/api/village/projects/<project_id>": "village_project",
    "/api/village/projects/<project_id>/discussion": "village_project",
    "/api/village/projects/<project_id>/vote": "village_project",
    "/api/village/projects/<project_id>/progress": "village_project",
    "/api/village/projects/<project_id>/completion": "village_project",
    "/api/village/projects/<project_id>/publications": "village_project",
    "/api/village/projects/<project_id>/minutes": "village_project",
    "/api/village/projects/<project_id>/minutes-photo": "village_project",
    "/api/village/evaluations/<evaluation_id>": "village_evaluation",
    "/api/village/public/villages/<unit_id>": "org_unit",
    "/api/joint/centres/<unit_id>": "org_unit",
    "/api/village/contacts/<record_id>": "village_contact",
    "/api/village/contacts/<record_id>/close": "village_contact",
    "/api/village/hearings/<record_id>": "village_hearing",
    "/api/village/hearings/<record_id>/close": "village_hearing",
    "/api/village/opinion-points/<record_id>": "village_opinion_point",
    "/api/village/opinion-points/<record_id>/close": "village_opinion_point",
    "/api/village/opinion-points/<point_id>/codes": "village_opinion_point",
    "/api/village/opinions/<opinion_id>/triage": "village_opinion",
    "/api/letters/<letter_id>": "letter",
    "/api/letters/<letter_id>/sign": "letter",
    "/api/letters/<letter_id>/withdraw": "letter",
    "/api/letters/<letter_id>/pdf": "letter",
    "/api/letters/<letter_id>/scan": "letter",
    **{f"/api/joint/meetings/<meeting_id>{tail}": "joint_meeting"
       for tail in ("", "/agenda", "/minutes", "/minutes.pdf", "/attendance", "/decisions")},
    **{f"/api/joint/campaigns/<campaign_id>{tail}": "joint_campaign"
       for tail in ("", "/targets", "/targets/<target_id>/close", "/targets/<target_id>/reports", "/supervise", "/summary")},
    "/api/joint/construction/<phase_id>/acceptance": "joint_construction_phase",
    "/api/keypersons/records/<record_id>": "keypersons_record",
    "/api/keypersons/records/<record_id>/visits": "keypersons_record",
    "/api/keypersons/records/<record_id>/end": "keypersons_record",
    "/api/keypersons/records/<record_id>/handover": "keypersons_record",
    "/api/keypersons/records/<record_id>/transfer": "keypersons_record",
    **{f"/api/transfers/incoming/<row_id>{tail}": "transfer_in" for tail in ("", "/accept", "/decline")},
    **{f"/api/transfers/outgoing/<row_id>{tail}": "transfer_out" for tail in ("", "/withdraw")},
    **{f"/api/keypersons/rental-houses/<house_id>{tail}": "keypersons_rental_house"
       for tail in ("", "/tenants", "/tenants/<tenancy_id>/move-out", "/ratings", "/letter", "/end")},
    "/api/scoring/rubrics/<rubric_id>": "scoring_rubric",
    "/api/scoring/periods/<period_id>": "scoring_period",
    "/api/scoring/periods/<period_id>/card": "scoring_period",
    "/api/scoring/periods/<period_id>/entries": "scoring_period",
    "/api/scoring/periods/<period_id>/state": "scoring_period",
    "/api/scoring/periods/<period_id>/ranking.xlsx": "scoring_period",
    "/api/scoring/periods/<period_id>/notice.pdf": "scoring_period",
    "/api/scoring/appeals/<appeal_id>/decision": "scoring_appeal",
    "/api/patrol/teams/<team_id>/members": "patrol_team",
    "/api/patrol/members/<member_id>/leave": "patrol_member",
    "/api/patrol/routes/<route_id>": "patrol_route",
    "/api/patrol/rounds/<round_id>": "patrol_round",
    "/api/patrol/rounds/<round_id>/check-ins": "patrol_round",
    "/api/patrol/check-ins/<check_in_id>/photo": "patrol_check_in",
    "/api/patrol/rounds/<round_id>/end": "patrol_round",
    "/api/patrol/rounds/<round_id>/findings": "patrol_round",
    "/api/patrol/clues/<case_id>/reporter": "case_record",
    "/api/patrol/cameras/<camera_id>/inspections": "patrol_camera",
    **{f"/api/patrol/{name}/<record_id>{tail}": f"patrol_{name[:-1]}"  # the module's registers
       for name in ("teams", "points", "groups", "cameras") for tail in ("", "/close")},
}
# further id arguments of a rule (after the first) → their table; other arguments → a fixed value
MORE_ID_TABLES = {"task_id": "case_task", "extension_id": "case_extension", "supervision_id": "case_supervision",
                  "attachment_id": "attachment", "person_id": "person", "target_id": "joint_campaign_target",
                  "tenancy_id": "keypersons_rental_tenant", "item_id": "safety_checklist_item"}
FIXED_ARGS = {"name": "accept", "flag": "urgent", "key": "visits.visit_notice", "kind": "unstable"}
# rules whose argument is not an object id (same names in every tenant; tenant-gated by the host)
NOT_OBJECT_IDS = {"/api/modules/<name>", "/api/case-types/<key>/settings", "/api/calendar/<day>", "/api/calendar/years/<int:year>", "/api/docs-static/<path:filename>", "/static/<path:filename>",
                  "/assets/<path:filename>", "/api/ledgers/templates/<case_type>", "/api/mediation/registers/<kind>",
                  "/api/mediation/registers/<kind>/export", "/api/letters/kinds/<key>", "/api/joint/mechanisms/<key>"}
BODIES = {
    ("PATCH", "/api/org-units/<unit_id>"): {"name": "越权改名"},
    ("POST", "/api/org-units/<unit_id>/move"): "A_UNIT",
    ("PATCH", "/api/users/<user_id>"): {"display_name": "越权改名"},
    ("PATCH", "/api/roles/<role_id>"): {"name": "越权改名"},
    ("POST", "/api/roles/<role_id>/extend"): {"template": "viewer"},
    ("PATCH", "/api/member-units/<item_id>"): {"name": "越权改名"},
    ("PATCH", "/api/network-roles/<item_id>"): {"person_name": "越权改名"},
    ("PATCH", "/api/persons/<person_id>"): {"name": "越权改名"},
    ("PATCH", "/api/oauth-clients/<client_id>"): {"name": "越权改名"},
    ("POST", "/api/cases/<case_id>/divert"): {"mode": "single", "tasks": [{"org_unit_id": 1}]},
    ("POST", "/api/cases/<case_id>/assign"): {"handler_id": 1},
    ("POST", "/api/cases/<case_id>/comments"): {"text": "越权留言"},
    ("POST", "/api/cases/<case_id>/persons"): {"name": "越权添加", "role": "party"},
    ("POST", "/api/cases/<case_id>/extensions"): {"deadline_id": 1, "amount": 1, "reason": "越权"},
    ("POST", "/api/cases/<case_id>/supervisions"): {"kind": "urge", "instruction": "越权督办"},
    ("POST", "/api/cases/<case_id>/tasks/<task_id>"): {"action": "done", "text": "越权反馈"},
    ("POST", "/api/cases/<case_id>/follow-ups"): {"satisfaction": "satisfied", "note": "越权回访"},
    ("POST", "/api/cases/<case_id>/extensions/<extension_id>/decision"): {"approve": True},
    ("POST", "/api/cases/<case_id>/supervisions/<supervision_id>/reply"): {"response": "越权答复"},
    ("POST", "/api/intake/<intake_id>/sort"): {"case_type": "visits.visit"},
    ("POST", "/api/intake/<intake_id>/close"): {"outcome": "resolved", "note": "越权办结"},
    ("POST", "/api/mediation/disputes/<case_id>/escalate"): {"reason": "越权上报"},
    ("POST", "/api/mediation/disputes/<case_id>/sessions"): {"held_at": "2026-01-05T10:00:00+08:00",
                                                             "mediators": "某", "record": "越权"},
    ("POST", "/api/mediation/disputes/<case_id>/agreement/confirmation"): {"result": "confirmed",
                                                                           "decided_on": "2026-01-05"},
    ("POST", "/api/mediation/disputes/<case_id>/followups"): {"kind": "return_visit", "performed": "performed"},
    ("PUT", "/api/mediation/disputes/<case_id>/agreement/draft"): {"issues": "越权", "responsibility": "越权",
                                                                   "terms": "越权", "performance": "越权"},
    ("POST", "/api/mediation/referrals/<referral_id>/outcome"): {"outcome": "judged"},
    ("POST", "/api/mediation/registers/<kind>/<entry_id>/resolve"): {"resolved_on": "2026-01-05"},
    ("POST", "/api/cases/<case_id>/attachments"): "FILE",  # a multipart upload (see _upload)
    ("POST", "/api/letters/<letter_id>/sign"): "FILE",  # multipart: the scan (the date is checked after the 404)
    ("POST", "/api/village/projects/<project_id>/minutes-photo"): "FILE",  # multipart: the photo of the signed minutes
    ("POST", "/api/letters/<letter_id>/withdraw"): {"reason": "越权撤销"},
    ("PUT", "/api/petition/cases/<case_id>/leader"): {"leader_name": "越权", "team": [{"name": "某"}],
                                                      "investigate": "越权", "handle": "越权", "stabilise": "越权"},
    ("POST", "/api/petition/cases/<case_id>/leader/end"): {"reason": "越权"},
    ("POST", "/api/petition/cases/<case_id>/risk"): {"level": "handler", "grade": "low"},
    ("POST", "/api/petition/cases/<case_id>/situation-report"): {"report": "越权", "notice_method": "phone",
                                                                  "noticed_on": "2026-01-05"},
    ("POST", "/api/petition/cases/<case_id>/joint-decision"): {"met_on": "2026-01-05", "units": ["甲", "乙"],
                                                                "decision": "越权", "measures": "越权"},
    ("POST", "/api/petition/watch/<watch_id>/end"): {"reason": "越权"},
    ("POST", "/api/petition/watch/<watch_id>/followups"): {"task": "越权", "due_on": "2026-01-05"},
    ("POST", "/api/petition/followups/<followup_id>/done"): {"result": "越权"},
    ("POST", "/api/petition/accountability/<acc_id>/close"): {"outcome": "越权"},
    ("POST", "/api/joint/meetings/<meeting_id>/agenda"): {"case_ids": [1]},
    ("PUT", "/api/joint/meetings/<meeting_id>/minutes"): {"minutes": "越权"},
    ("POST", "/api/joint/meetings/<meeting_id>/attendance"): {"member_unit_id": 1, "status": "present"},
    ("POST", "/api/joint/meetings/<meeting_id>/decisions"): {"case_id": 1, "text": "越权", "deadline": "2099-01-05",
                                                             "lead": {"org_unit_id": 1}},
    ("POST", "/api/joint/campaigns/<campaign_id>/targets"): {"case_id": 1, "deadline": "2099-01-05",
                                                             "lead": {"org_unit_id": 1}},
    ("POST", "/api/joint/campaigns/<campaign_id>/targets/<target_id>/close"): {"note": "越权"},
    ("POST", "/api/joint/campaigns/<campaign_id>/targets/<target_id>/reports"): {"text": "越权"},
    ("PUT", "/api/joint/campaigns/<campaign_id>/summary"): {"summary": "越权"},
    ("POST", "/api/joint/construction/<phase_id>/acceptance"): {"result": "passed", "checked_on": "2026-01-05"},
    ("PATCH", "/api/keypersons/records/<record_id>"): {"risk_level": "low"},
    ("POST", "/api/keypersons/records/<record_id>/visits"): {"visited_on": "2026-01-05", "way": "home",
                                                             "visitor": "某", "result": "stable"},
    ("POST", "/api/keypersons/records/<record_id>/end"): {"ended_on": "2026-01-05"},
    ("PATCH", "/api/keypersons/rental-houses/<house_id>"): {"address": "越权"},
    ("POST", "/api/keypersons/rental-houses/<house_id>/tenants"): {"name": "越权", "moved_in": "2026-01-05"},
    ("POST", "/api/keypersons/rental-houses/<house_id>/tenants/<tenancy_id>/move-out"): {"moved_out": "2026-01-05"},
    ("POST", "/api/keypersons/rental-houses/<house_id>/ratings"): {"year": 2026, "stars": [], "rated_on": "2026-01-05"},
    ("POST", "/api/keypersons/rental-houses/<house_id>/letter"): {"year": 2026},
    ("POST", "/api/keypersons/rental-houses/<house_id>/end"): {"ended_on": "2026-01-05"},
    ("POST", "/api/keypersons/records/<record_id>/handover"): {"org_unit_id": 1, "handed_over_on": "2026-01-05"},
    ("POST", "/api/keypersons/records/<record_id>/transfer"): {"to_tenant_id": 1},
    ("POST", "/api/transfers/incoming/<row_id>/accept"): {"org_unit_id": 1},
    ("POST", "/api/transfers/incoming/<row_id>/decline"): {"reason": "越权拒收"},
    ("POST", "/api/village/projects/<project_id>/discussion"): {"discussed_on": "2026-01-05", "opinion": "越权",
                                                                "submit": True},
    ("POST", "/api/village/projects/<project_id>/vote"): {"body": "representatives", "voted_on": "2026-01-06",
                                                          "members": 30, "present": 25, "votes_for": 25,
                                                          "votes_against": 0},
    ("POST", "/api/village/projects/<project_id>/progress"): {"progress_on": "2026-01-07", "progress_pct": 10,
                                                              "note": "越权"},
    ("POST", "/api/village/projects/<project_id>/completion"): {"completed_on": "2026-01-07", "note": "越权"},
    ("POST", "/api/village/projects/<project_id>/publications"): {"stage": "decision"},
    ("POST", "/api/village/opinion-points/<point_id>/codes"): {"count": 1},
    ("POST", "/api/village/opinions/<opinion_id>/triage"): {"action": "dismissed", "note": "越权"},
    ("POST", "/api/scoring/periods/<period_id>/entries"): {"org_unit_id": 1, "item_key": "i1", "passed": True,
                                                            "note": "越权评分"},
    ("POST", "/api/scoring/periods/<period_id>/state"): {"action": "publish"},
    ("POST", "/api/scoring/appeals/<appeal_id>/decision"): {"decision": "rejected", "reason": "越权"},
    ("POST", "/api/patrol/teams/<team_id>/members"): {"person_id": 1, "joined_on": "2026-01-01"},
    ("POST", "/api/patrol/members/<member_id>/leave"): {"left_on": "2026-06-30"},
    ("POST", "/api/patrol/rounds/<round_id>/check-ins"): {"point_id": 1},
    ("POST", "/api/patrol/check-ins/<check_in_id>/photo"): "FILE",
    ("POST", "/api/safety/inspections/<inspection_id>/answers/<item_id>/photo"): "FILE",
    ("POST", "/api/patrol/rounds/<round_id>/findings"): {"kind": "other", "title": "越权", "content": "越权"},
    ("POST", "/api/patrol/cameras/<camera_id>/inspections"): {"label_ok": True, "housing_ok": True,
                                                              "cables_ok": True, "picture_ok": True},
}
MATRIX = Matrix(ID_TABLES, MORE_ID_TABLES, FIXED_ARGS, NOT_OBJECT_IDS, BODIES)


@pytest.fixture(scope="module")
def pair(app):
    """Two counties with every module on; B has a row behind every id-taking rule."""
    a, b = load_tenant(app), load_tenant(app)
    for t in (a, b):
        admin = Client(app, t.host, {"Authorization": f"Bearer {make_token(app, t, 'county.admin')}"})
        assert admin.put("/api/modules/visits", json={"enabled": True}).status_code == 200
        r = admin.post("/api/visits/greetings", json={"org_unit_id": t.unit("T01D1V1"), "recipient": "张三"})
        assert r.status_code == 201, r.get_json()
        assert admin.put("/api/modules/hello", json={"enabled": True}).status_code == 200
        r = admin.post("/api/hello/greetings", json={"org_unit_id": t.unit("T01D1V1"), "recipient": "李四"})
        assert r.status_code == 201, r.get_json()
        r = admin.post("/api/letters", json={"kind": "hello.pledge", "year": 2026, "issuing_unit_id": t.unit("T01"),
                                             "party_kind": "unit", "party_id": t.unit("T01D1V1")})
        assert r.status_code == 201, r.get_json()
        r = admin.post(f"/api/letters/{r.get_json()['id']}/sign", content_type="multipart/form-data", data={
            "signed_on": "2026-01-05", "file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "scan.pdf")})  # with a scan
        assert r.status_code == 200, r.get_json()
        _case_with_everything(admin, t)
        _petition_with_everything(admin, t)
        _dispute_with_everything(admin, t)
        _joint_with_everything(admin, t)
        assert admin.put("/api/modules/keypersons", json={"enabled": True}).status_code == 200
        r = admin.post("/api/keypersons/records", json={"org_unit_id": t.unit("T01D1V1"), "category": "drug",
                                                        "risk_level": "low", "name": "某丙"})
        assert r.status_code == 201, r.get_json()
        r = admin.post(f"/api/keypersons/records/{r.get_json()['id']}/transfer",   # to the other county (跨县移交)
                       json={"to_tenant_id": (b if t is a else a).id, "note": "迁出"})
        assert r.status_code == 201, r.get_json()
        r = admin.post("/api/keypersons/rental-houses", json={"org_unit_id": t.unit("T01D1V1"), "address": "新街 1 号",
                                                              "owner_name": "某丁"})
        assert r.status_code == 201, r.get_json()
        r = admin.post(f"/api/keypersons/rental-houses/{r.get_json()['id']}/tenants",
                       json={"name": "某戊", "moved_in": "2026-01-05"})
        assert r.status_code == 201, r.get_json()
        _safety_with_everything(admin, t)
        _village_with_everything(admin, t)
        _scoring_with_everything(admin, t)
        _patrol_with_everything(admin, t)
        assert admin.post("/api/ledgers/exports", json={"case_type": "visits.visit"}).status_code == 202  # a job
        r = admin.post("/api/oauth-clients", json={
            "name": "县信息中心应用", "confidential": False, "redirect_uris": ["https://app.example/cb"],
            "scopes": ["core.org_unit.read"], "grant_types": ["authorization_code"]})
        assert r.status_code == 201, r.get_json()
    from tests.casework import run_jobs
    run_jobs(app)   # the offers reach the other county: each has a transfer_in row too
    return a, b


def _case_with_everything(admin, t) -> None:
    """A case diverted jointly, with an extension request, a supervision (and to-dos) and an attachment."""
    r = admin.post("/api/cases", json={"case_type": "visits.visit", "title": "走访", "org_unit_id": t.unit("T01D1V1"),
                                       "details": {"visit_kind": "home"}})
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    assert admin.post(f"/api/cases/{case_id}/transitions/accept", json={}).status_code == 200
    r = admin.post(f"/api/cases/{case_id}/divert", json={"mode": "joint", "tasks": [
        {"org_unit_id": t.unit("T01"), "role": "lead"}, {"org_unit_id": t.unit("T02"), "role": "co"}]})
    assert r.status_code == 200, r.get_json()
    handle = next(d for d in r.get_json()["deadlines"] if d["rule"] == "handle")
    r = admin.post(f"/api/cases/{case_id}/extensions", json={"deadline_id": handle["id"], "amount": 5,
                                                               "reason": "需要补充调查"})
    assert r.status_code == 201, r.get_json()
    r = admin.post(f"/api/cases/{case_id}/supervisions", json={"kind": "urge", "instruction": "请加快办理"})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/intake", json={"channel": "call", "org_unit_id": t.unit("T01"), "subject": "来电咨询",
                                        "content": "咨询低保政策"})
    assert r.status_code == 201, r.get_json()
    r = admin.post(f"/api/cases/{case_id}/attachments", **_upload("走访记录：老人身体健康\n".encode(), "走访记录.txt"))
    assert r.status_code == 201, r.get_json()


def _petition_with_everything(admin, t) -> None:
    """The petition module on, and a watched petitioner with a follow-up and an accountability record."""
    r = admin.put("/api/modules/petition", json={"enabled": True, "settings": {
        "default_quotas": {"village": {"abnormal": 0}}}})
    assert r.status_code == 200, r.get_json()
    person = admin.post("/api/persons", json={"name": "某甲", "org_unit_id": t.unit("T01D1V1")}).get_json()["id"]
    r = admin.post("/api/cases", json={"case_type": "petition.case", "title": "信访", "org_unit_id": t.unit("T01D1V1"),
                                       "persons": [{"person_id": person, "role": "petitioner"}],
                                       "details": {"form": "letter", "category": "land"}})
    assert r.status_code == 201, r.get_json()
    watch = admin.post("/api/petition/watch", json={"person_id": person, "grade": "low", "signs": "苗头"}).get_json()
    r = admin.post(f"/api/petition/watch/{watch['id']}/followups", json={"task": "走访", "due_on": "2026-01-05"})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/petition/escalations", json={"org_unit_id": t.unit("T01D1V1"), "petitioner": "某甲",
                                                      "level": "city", "abnormal": True, "occurred_on": "2026-01-05"})
    assert r.status_code == 201 and r.get_json()["accountability"], r.get_json()


def _joint_with_everything(admin, t) -> None:
    """The joint module on: a meeting, a running campaign with a target, a construction phase."""
    assert admin.put("/api/modules/joint", json={"enabled": True}).status_code == 200
    today = dt.date.today()
    r = admin.post("/api/joint/meetings", json={"org_unit_id": t.unit("T01"), "kind": "township_joint",
                                                "held_on": today.isoformat(), "convener": "某"})
    assert r.status_code == 201, r.get_json()
    c = admin.post("/api/joint/campaigns", json={"org_unit_id": t.unit("T01"), "title": "整治", "starts_on": (
        today - dt.timedelta(days=1)).isoformat(), "ends_on": (today + dt.timedelta(days=30)).isoformat()}).get_json()
    case = admin.post("/api/cases", json={"case_type": "visits.visit", "title": "整治目标", "org_unit_id": t.unit("T01D1V1"),
                                          "details": {"visit_kind": "home"}}).get_json()
    r = admin.post(f"/api/joint/campaigns/{c['id']}/targets", json={"case_id": case["id"], "deadline": (
        today + dt.timedelta(days=10)).isoformat(), "lead": {"org_unit_id": t.unit("T01D1V1")}})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/joint/construction", json={"org_unit_id": t.unit("T01D1V1"), "phase": "prep",
                                                    "target_date": today.isoformat()})
    assert r.status_code == 201, r.get_json()


def _scoring_with_everything(admin, t) -> None:
    """The scoring module on: a rubric, a published period in its appeal window and an appeal."""
    assert admin.put("/api/modules/scoring", json={"enabled": True}).status_code == 200
    r = admin.post("/api/scoring/rubrics", json={"level": "township", "year": 2026, "title": "竞赛", "items": [
        {"category": "依法行政", "title": "备案", "points": 5, "source": "check"}]})
    assert r.status_code == 201, r.get_json()
    key = r.get_json()["items"][0]["key"]
    period = admin.post("/api/scoring/periods", json={"level": "township", "kind": "quarter", "year": 2026,
                                                      "number": 1}).get_json()["id"]
    for action in ("publish", "open_appeals"):
        assert admin.post(f"/api/scoring/periods/{period}/state", json={"action": action}).status_code == 200
    r = admin.post("/api/scoring/appeals", json={"period_id": period, "org_unit_id": t.unit("T01"), "item_key": key,
                                                 "reason": "已备案"})
    assert r.status_code == 201, r.get_json()


def _patrol_with_everything(admin, t) -> None:
    """The patrol module on: a team with a member, a point, a route walked in a round with a
    check-in, a joint-defence group, a camera with an inspection and a clue (as in
    tests/test_patrol_isolation.py)."""
    assert admin.put("/api/modules/patrol", json={"enabled": True}).status_code == 200
    unit = t.unit("T01D1V1")
    person = admin.post("/api/persons", json={"name": "某丁", "org_unit_id": unit}).get_json()["id"]
    r = admin.post("/api/patrol/teams", json={"org_unit_id": unit, "name": "巡逻队", "kind": "village_patrol"})
    assert r.status_code == 201, r.get_json()
    team = r.get_json()["id"]
    r = admin.post(f"/api/patrol/teams/{team}/members", json={"person_id": person, "joined_on": "2026-01-01"})
    assert r.status_code == 201, r.get_json()
    member = r.get_json()["id"]
    r = admin.post("/api/patrol/points", json={"org_unit_id": unit, "name": "村口", "line": "fringe"})
    assert r.status_code == 201, r.get_json()
    point = r.get_json()["id"]
    r = admin.post("/api/patrol/routes", json={"org_unit_id": unit, "name": "夜巡", "team_id": team,
                                               "window_start": "20:00", "window_end": "22:00", "point_ids": [point]})
    assert r.status_code == 201, r.get_json()
    route = r.get_json()["id"]
    r = admin.post("/api/patrol/duties", json={"route_id": route, "member_id": member, "duty_date": "2026-11-10",
                                               "shift_start": "20:00", "shift_end": "22:00"})
    assert r.status_code == 201, r.get_json()
    with time_machine.travel(dt.datetime(2026, 11, 10, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        r = admin.post("/api/patrol/rounds", json={"route_id": route})
        assert r.status_code == 201, r.get_json()
        r = admin.post(f"/api/patrol/rounds/{r.get_json()['id']}/check-ins", json={"point_id": point})
        assert r.status_code == 201, r.get_json()
    r = admin.post("/api/patrol/groups", json={"org_unit_id": unit, "name": "联防组", "kind": "shops",
                                               "leader_person_id": person, "households": 10})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/patrol/cameras", json={"org_unit_id": unit, "place": "村口"})
    assert r.status_code == 201, r.get_json()
    r = admin.post(f"/api/patrol/cameras/{r.get_json()['id']}/inspections",
                   json={"label_ok": True, "housing_ok": True, "cables_ok": True, "picture_ok": False})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/patrol/clues", json={"org_unit_id": unit, "title": "线索", "place": "村口",
                                              "content": "可疑人员", "anonymous": True})
    assert r.status_code == 201, r.get_json()


def _dispute_with_everything(admin, t) -> None:
    """The mediation module on, a dispute the court referred with an agreement, and a ledger entry."""
    assert admin.put("/api/modules/mediation", json={"enabled": True}).status_code == 200
    person = admin.post("/api/persons", json={"name": "某乙", "org_unit_id": t.unit("T01D1V1")}).get_json()["id"]
    r = admin.post("/api/cases", json={"case_type": "mediation.dispute", "title": "纠纷", "org_unit_id": t.unit("T01D1V1"),
                                       "persons": [{"person_id": person, "role": "applicant"}],
                                       "details": {"dispute_type": "debt", "referred_from": {
                                           "kind": "judicial", "body": "某法庭"}}})
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    assert admin.post(f"/api/cases/{case_id}/transitions/accept", json={"consent": True}).status_code == 200
    r = admin.post(f"/api/cases/{case_id}/transitions/agree", json={
        "form": "oral", "facts": "欠款", "issues": "数额", "responsibility": "乙方", "terms": "还款",
        "performance": "现金", "mediator": "某", "committee": "某村人民调解委员会"})
    assert r.status_code == 200, r.get_json()
    r = admin.post("/api/mediation/registers/unstable", json={"org_unit_id": t.unit("T01D1V1"),
                                                              "found_on": "2026-01-05", "description": "苗头"})
    assert r.status_code == 201, r.get_json()


def _safety_with_everything(admin, t) -> None:
    """The safety module on: a checklist, a place, an inspection that raised a hazard, an incident."""
    assert admin.put("/api/modules/safety", json={"enabled": True}).status_code == 200
    r = admin.post("/api/safety/checklists", json={"place_type": "catering", "title": "餐饮", "items": [
        {"question": "灭火器有效", "hazard": True, "grade": "general"}]})
    assert r.status_code == 201, r.get_json()
    item = r.get_json()["items"][0]["id"]
    r = admin.post("/api/safety/places", json={"org_unit_id": t.unit("T01D1V1"), "place_type": "catering",
                                               "name": "饭庄", "responsible_person": "某"})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/safety/inspections", json={"place_id": r.get_json()["id"],
                                                    "answers": [{"item_id": item, "answer": False}]})
    assert r.status_code == 201 and r.get_json()["hazards"] == 1, r.get_json()
    r = admin.post("/api/safety/incidents", json={"org_unit_id": t.unit("T01D1V1"), "title": "事件", "location": "某地",
                                                  "description": "经过", "occurred_at": "2026-01-05T10:00:00+08:00"})
    assert r.status_code == 201, r.get_json()


def _village_with_everything(admin, t) -> None:
    """The village module on: a project voted and published, an evaluation under the threshold
    (with its rectification), a contact and a hearing with a commitment."""
    assert admin.put("/api/modules/village", json={"enabled": True}).status_code == 200
    unit = t.unit("T01D1V1")
    p = admin.post("/api/village/projects", json={"org_unit_id": unit, "title": "村道", "budget": "1",
                                                  "proposed_on": "2026-01-02"}).get_json()
    admin.post(f"/api/village/projects/{p['id']}/discussion", json={"discussed_on": "2026-01-03", "opinion": "同意",
                                                                   "submit": True})
    r = admin.post(f"/api/village/projects/{p['id']}/vote", json={
        "body": "representatives", "voted_on": "2026-01-04", "members": 30, "present": 25, "votes_for": 25,
        "votes_against": 0})
    assert r.status_code == 200, r.get_json()
    assert admin.post(f"/api/village/projects/{p['id']}/publications", json={"stage": "decision"}).status_code == 201
    r = admin.post("/api/village/evaluations", json={
        "org_unit_id": unit, "year": 2026, "held_on": "2026-01-05", "villager_issued": 10, "villager_satisfied": 5,
        "villager_basic": 0, "villager_unsatisfied": 5, "party_issued": 5, "party_satisfied": 5, "party_basic": 0,
        "party_unsatisfied": 0})
    assert r.status_code == 201 and r.get_json()["case_id"], r.get_json()
    r = admin.post("/api/village/contacts", json={"org_unit_id": t.unit("T01D1V1G1"), "kind": "villager",
                                                  "contacted_on": "2026-01-05", "outcome": "none"})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/village/hearings", json={"org_unit_id": unit, "held_on": "2026-01-05", "questions": "路灯",
                                                  "commitment": "修路灯"})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/village/opinion-points", json={"org_unit_id": unit, "name": "村部采集点"})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/village/opinions", json={"point_id": r.get_json()["id"], "content": "路灯不亮",
                                                  "received_on": "2026-01-05"})
    assert r.status_code == 201, r.get_json()


def test_every_id_rule_answers_404_for_another_tenants_ids(app, db, pair):
    a, b = pair
    admin_a = Client(app, a.host, {"Authorization": f"Bearer {make_token(app, a, 'county.admin')}"})
    checked, unknown, leaks = id_rule_leaks(app, db, admin_a, b, api_rules(app), MATRIX,
                                            body_for=lambda method, rule: _a_unit(a, method, rule))
    assert unknown == [], "rules this matrix does not cover yet: " + json.dumps(unknown, ensure_ascii=False)
    assert leaks == []
    assert checked >= 25


def _a_unit(a, method: str, rule: str):
    """A move's body names a unit of the county moving (A), not of the one the id is of."""
    return {"parent_id": a.unit("T02")} if BODIES.get((method, rule)) == "A_UNIT" else None


def test_no_list_endpoint_returns_another_tenants_rows(app, db, pair):
    a, b = pair
    admin_a = Client(app, a.host, {"Authorization": f"Bearer {make_token(app, a, 'county.admin')}"})
    b_ids = all_ids(db, b)
    assert len(b_ids) > 300
    checked, leaks = list_leaks(admin_a, api_rules(app), b_ids)
    assert leaks == []
    assert checked >= 9


def test_a_withdrawn_unit_gets_404_on_every_case_rule_and_the_case_in_no_list(app, db, pair):
    """Issue 14 (finding 4): after the co-unit's task is withdrawn, every rule taking the case's
    id answers that unit exactly as for a case that does not exist, and no list returns it."""
    a, _ = pair
    admin = Client(app, a.host, {"Authorization": f"Bearer {make_token(app, a, 'county.admin')}"})
    withdrawn = Client(app, a.host, {"Authorization": f"Bearer {make_token(app, a, 'qingshan.admin')}"})
    r = admin.post("/api/cases", json={"case_type": "visits.visit", "title": "撤回", "org_unit_id": a.unit("C"),
                                       "details": {"visit_kind": "home"}})
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    assert admin.post(f"/api/cases/{case_id}/transitions/accept", json={}).status_code == 200
    r = admin.post(f"/api/cases/{case_id}/divert", json={"mode": "joint", "tasks": [
        {"org_unit_id": a.unit("T01"), "role": "lead"}, {"org_unit_id": a.unit("T02"), "role": "co"}]})
    assert r.status_code == 200, r.get_json()
    co = next(t for t in r.get_json()["tasks"] if t["role"] == "co")
    assert withdrawn.get(f"/api/cases/{case_id}").status_code == 200  # seen through the open task …
    r = admin.post(f"/api/cases/{case_id}/tasks/{co['id']}", json={"action": "cancel", "text": "撤回"})
    assert r.status_code == 200, r.get_json()
    # the task argument: the withdrawn task itself
    matrix = Matrix(ID_TABLES, MORE_ID_TABLES, {**FIXED_ARGS, "task_id": str(co["id"])}, NOT_OBJECT_IDS, BODIES)
    checked, leaks = out_of_scope_leaks(db, withdrawn, a, api_rules(app), matrix, {"case_record": case_id})
    assert leaks == []
    assert checked >= 30


# --- ids in write bodies (issue 14, finding 8) -------------------------------------------------

from tests.test_write_scope import other_county, probe, world  # noqa: E402,F401 (``world``: a fixture)


def test_another_countys_ids_in_write_bodies_are_refused_and_write_nothing(app, db, world):
    """Every id field of every write body (tests/test_write_scope.py finds them in the OpenAPI
    spec and the case types' details and acts), sent by a county admin holding every
    permission county-wide with an id of the other county's object of that class or one that
    exists nowhere: 403/404/422, and no row of either county changes."""
    from tests.conftest import make_token
    a = world["a"]
    admin = Client(app, a.host, {"Authorization": f"Bearer {make_token(app, a, 'county.admin')}"})
    probes, failures = probe(app, db, world, admin, other_county(world))
    print("isolation probes in write bodies per class:", probes, "failures:", len(failures))
    assert failures == [], "\n".join(failures)
    assert all(n >= 2 for n in probes.values()) and sum(probes.values()) >= 70, probes
