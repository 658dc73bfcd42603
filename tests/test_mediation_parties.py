"""Issue 15 (mediation module): the tier a mediation is credited to (MED-3) and the parties on
the mediation agreement and its draft for signing (人民调解法 Art. 29, as the module prints it).

- The tier of a mediation is the tier of the unit that mediated it — the unit recorded on the
  act (``by_unit_id`` of the timeline event) — not the unit where the dispute was registered.
- A dispute has any number of parties; the draft (草拟) and the recorded agreement list every
  one with their role, and the copies are one per party plus one the committee keeps.
"""
from __future__ import annotations

import datetime as dt
import io

import time_machine

from core.workdays import SHANGHAI
from tests.casework import act
from tests.test_mediation import AGREEMENT, county, dispute, person, two_parties  # noqa: F401  (the fixture)

NOW = dt.datetime(2026, 11, 18, 10, tzinfo=SHANGHAI)  # a Wednesday; every outcome here is dated
RANGE = "start=2026-11-01&end=2026-11-30"


def _tiers(client, unit_id: int | None = None) -> dict:
    q = f"&org_unit_id={unit_id}" if unit_id else ""
    report = client.get(f"/api/mediation/reports/tiers?{RANGE}{q}").get_json()
    assert "tiers" in report, report
    return {t["tier"]: t for t in report["tiers"]}


def _pdf_text(response) -> str:
    from pypdf import PdfReader
    assert response.status_code == 200 and response.mimetype == "application/pdf", response.get_data(as_text=True)
    pages = PdfReader(io.BytesIO(response.data)).pages
    return "".join(p.extract_text() for p in pages).replace("\n", "").replace(" ", "")


# --- MED-3: the tier that mediated ----------------------------------------------------------------

def test_a_village_dispute_mediated_by_the_township_is_counted_in_the_township_tier(county, login):
    """rule: MED-3 — registered by the village committee, taken up and settled by the township
    centre (it covers the village, no escalation on record): the agreement is the township's,
    in the tier report (API and page) and on the back-trace; the village received it and handed
    it over but neither resolved it nor passed it up."""
    with time_machine.travel(NOW, tick=False):
        cadre, township = login(county, "village.cadre"), login(county, "donghu.admin")
        case = dispute(cadre, county, parties=two_parties(cadre, county))
        assert case["details"]["tier"] == "village"
        assert act(township, case["id"], "accept", {"consent": True}).status_code == 200
        r = act(township, case["id"], "agree", AGREEMENT)
        assert r.status_code == 200, r.get_json()
        rows = _tiers(township)
        assert rows["township"]["received"] == 1 and rows["township"]["resolved"] == 1
        assert rows["village"]["resolved"] == 0 and rows["village"]["escalated"] == 0
        # settled at the township: within the township (大事不出乡), not at the first tier
        report = township.get(f"/api/mediation/reports/tiers?{RANGE}").get_json()
        assert report["resolved_below_township_percent"] == 100.0
        assert report["resolved_at_first_tier_percent"] == 0.0
        assert rows["village"]["taken_over"] == 1 and rows["village"]["received"] == 1
        assert cadre.get(f"/api/cases/{case['id']}").get_json()["details"]["tier"] == "township"
        trace = cadre.get(f"/api/mediation/disputes/{case['id']}/trace").get_json()
        assert [(s["tier"], s["result"]) for s in trace["steps"]] == [("village", "taken_over"),
                                                                      ("township", "resolved")]
        assert trace["stalled_tier"] is None  # handed over, not passed up unresolved
        page = township.get(f"/mediation/reports?{RANGE}").get_data(as_text=True)
        table = page[page.index('id="tier-report"'):]
        township_row = table[table.index("乡镇综治中心"):].split("</tr>")[0]
        assert [c.split("<")[0] for c in township_row.split("<td>")[:3]] == ["乡镇综治中心", "1", "1"]


def test_a_dispute_assigned_to_the_township_and_mediated_there_is_the_townships(county, login):
    """rule: MED-3 (and INT-3 分): the county diverts a village's dispute to the township, whose
    people mediate it — the mediation act's unit is the township, so is the tier; a dispute
    the village settles itself stays the village's."""
    with time_machine.travel(NOW, tick=False):
        cadre, township, admin = (login(county, u) for u in ("village.cadre", "donghu.admin", "county.admin"))
        case = dispute(cadre, county, parties=two_parties(cadre, county))
        r = admin.post(f"/api/cases/{case['id']}/divert", json={"mode": "single", "tasks": [
            {"org_unit_id": county.unit("T01"), "instruction": "请镇综治中心调处"}]})
        assert r.status_code == 200, r.get_json()
        assert act(township, case["id"], "accept", {"consent": True}).status_code == 200
        assert act(township, case["id"], "end", {"outcome": "no_agreement", "note": "调解不成"}).status_code == 200
        own = dispute(cadre, county, parties=two_parties(cadre, county))
        assert act(cadre, own["id"], "accept", {"consent": True}).status_code == 200
        assert act(cadre, own["id"], "agree", AGREEMENT).status_code == 200
        rows = _tiers(township)
        assert (rows["township"]["received"], rows["township"]["ended"], rows["township"]["resolved"]) == (1, 1, 0)
        assert (rows["village"]["received"], rows["village"]["resolved"], rows["village"]["ended"]) == (2, 1, 0)
        assert rows["village"]["taken_over"] == 1
        # the village's own report: its disputes, wherever they were mediated
        mine = _tiers(cadre, county.unit("T01D1V1"))
        assert mine["township"]["ended"] == 1 and mine["village"]["resolved"] == 1


def test_a_dispute_escalated_to_the_township_is_still_credited_there(county, login):
    """rule: MED-3 — the module's own escalation (village → 包片领导/驻村干部 → township) keeps
    crediting the tier that held it: passed up twice, resolved by the township."""
    with time_machine.travel(NOW, tick=False):
        cadre, township = login(county, "village.cadre"), login(county, "donghu.admin")
        case = dispute(cadre, county, parties=two_parties(cadre, county))
        for reason in ("村调委会调解不成", "驻村干部协调未果"):
            r = cadre.post(f"/api/mediation/disputes/{case['id']}/escalate", json={"reason": reason})
            assert r.status_code == 200, r.get_json()
        assert act(township, case["id"], "accept", {"consent": True}).status_code == 200
        assert act(township, case["id"], "agree", AGREEMENT).status_code == 200
        rows = _tiers(township)
        assert (rows["village"]["escalated"], rows["cadre"]["escalated"], rows["township"]["resolved"]) == (1, 1, 1)
        assert rows["village"]["taken_over"] == 0 and rows["cadre"]["resolved"] == 0


# --- the parties on the agreement and its draft (人民调解法 Art. 29 as the module prints it) -----------

def _id_number(first17: str) -> str:
    from core.privacy import id_number_checksum
    return first17 + id_number_checksum(first17)


def _four_parties(client, county) -> list[tuple[int, str]]:
    """Two applicants, one respondent, one third party."""
    def one(name, phone, id17):
        r = client.post("/api/persons", json={"name": name, "org_unit_id": county.unit("T01D1V1"), "phone": phone,
                                              "id_number": _id_number(id17)})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]
    return [(one("王大山", "13800138001", "11010519700101001"), "applicant"),
            (one("王二山", "13800138002", "11010519720202002"), "applicant"),
            (one("李小河", "13900139003", "11010519750303003"), "respondent"),
            (one("张青松", "13700137004", "11010519800404004"), "third")]


DRAFT = {"issues": "东侧界线位置", "responsibility": "双方对界桩缺失均负有责任",
         "terms": "以1998年登记图为准，重新埋设界桩", "performance": "双方共同出工埋设界桩",
         "performance_due": "2026-11-28", "mediator": "王秀英", "committee": "罗塘村人民调解委员会"}


def test_the_draft_and_the_agreement_name_every_party_with_their_role_and_the_copies(county, login):
    """rule: MED-3/MED-4 documents (人民调解协议书, Art. 29 items): a dispute with two applicants,
    one respondent and a third party — the draft for signing (before the agreement is recorded)
    and the recorded agreement both name all four with their roles and say 一式五份 (one per party,
    one the committee keeps); the draft holds the facts, the agreed items, the manner and term of
    performance, and the parties' ID numbers and phones masked."""
    with time_machine.travel(NOW, tick=False):
        cadre = login(county, "village.cadre")
        parties = _four_parties(cadre, county)
        case = dispute(cadre, county, parties=parties)
        assert len(cadre.get(f"/api/mediation/disputes/{case['id']}/parties").get_json()) == 4
        early = cadre.put(f"/api/mediation/disputes/{case['id']}/agreement/draft", json=DRAFT)
        assert early.status_code == 409 and early.get_json()["code"] == "not_mediating"
        assert act(cadre, case["id"], "accept", {"consent": True}).status_code == 200
        assert cadre.get(f"/api/mediation/disputes/{case['id']}/agreement/draft").status_code == 404
        # before anything is drafted: the parties and the copies, lines to fill in by hand
        blank = _pdf_text(cadre.get(f"/api/cases/{case['id']}/documents/mediation.agreement_draft"))
        assert "申请人：王大山" in blank and "第三人：张青松" in blank and "一式五份" in blank and "＿＿＿" in blank
        r = cadre.put(f"/api/mediation/disputes/{case['id']}/agreement/draft", json=DRAFT)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["facts"] == "两户因宅基地边界发生争执"  # the dispute's content, as registered
        assert r.get_json()["document"].endswith("/documents/mediation.agreement_draft")
        text = _pdf_text(cadre.get(f"/api/cases/{case['id']}/documents/mediation.agreement_draft"))
        for item in ("草拟稿", "当事人的基本情况", "申请人：王大山", "申请人：王二山", "被申请人：李小河", "第三人：张青松",
                     "纠纷的主要事实：两户因宅基地边界发生争执", "争议事项：东侧界线位置", "各方当事人的责任：双方对界桩缺失均负有责任",
                     "协议内容：以1998年登记图为准，重新埋设界桩", "履行方式：双方共同出工埋设界桩", "履行期限：2026年11月28日",
                     "一式五份", "当事人各执一份", "人民调解委员会留存一份", "王秀英", "罗塘村人民调解委员会",
                     "公民身份号码：1101**********", "联系电话：138****8001"):
            assert item in text, item
        assert _id_number("11010519700101001") not in text and "13800138001" not in text  # masked
        for name, side in (("王大山", "申请人"), ("王二山", "申请人"), ("李小河", "被申请人"), ("张青松", "第三人")):
            assert f"{side}（签名、盖章或按指印）{name}" in text, name
        timeline = cadre.get(f"/api/cases/{case['id']}/events").get_json()
        assert [e["kind"] for e in timeline].count("mediation.draft") == 1
        # the signed agreement recorded: the final document says the same
        assert act(cadre, case["id"], "agree", {**AGREEMENT, "performance_due": "2026-11-28"}).status_code == 200
        assert cadre.get(f"/api/mediation/disputes/{case['id']}/agreement").get_json()["copies"] == 5
        final = _pdf_text(cadre.get(f"/api/cases/{case['id']}/documents/mediation.agreement"))
        assert "草拟稿" not in final
        for item in ("申请人：王大山", "申请人：王二山", "被申请人：李小河", "第三人：张青松", "一式五份",
                     "人民调解委员会留存一份", "履行期限：2026年11月28日"):
            assert item in final, item
        for name, side in (("王大山", "申请人"), ("王二山", "申请人"), ("李小河", "被申请人"), ("张青松", "第三人")):
            assert f"{side}（签名、盖章或按指印）{name}" in final, name
        # the draft can no longer be changed once the agreement is recorded
        late = cadre.put(f"/api/mediation/disputes/{case['id']}/agreement/draft", json=DRAFT)
        assert late.status_code == 409


def test_identity_facts_in_full_only_with_the_pii_permission_and_audited(app, county, login):
    """The parties' ID numbers on the printed agreement: masked; ``reveal=true`` is refused
    without ``mediation.pii.read`` (403) and, with it, prints them in full (audited)."""
    with time_machine.travel(NOW, tick=False):
        cadre = login(county, "village.cadre")
        case = dispute(cadre, county, parties=_four_parties(cadre, county))
        assert act(cadre, case["id"], "accept", {"consent": True}).status_code == 200
        url = f"/api/cases/{case['id']}/documents/mediation.agreement_draft"
        assert cadre.get(f"{url}?reveal=true").status_code == 403
        from core.app import pingan
        from core.models import Role, RoleAssignment, RolePermission, User
        from sqlalchemy import select
        with pingan(app).db.transaction(county.id) as s:  # as tenant.toml would: no admin holds it to grant
            role = Role(key="pii_mediator", name="调解员（完整身份信息）")
            s.add(role)
            s.flush()
            s.add(RolePermission(role_id=role.id, permission="mediation.pii.read"))
            s.add(RoleAssignment(user_id=s.scalar(select(User.id).where(User.username == "village.cadre")),
                                 role_id=role.id, org_unit_id=county.unit("T01D1V1")))
        cadre = login(county, "village.cadre")
        masked = _pdf_text(cadre.get(url))
        assert _id_number("11010519750303003") not in masked
        full = _pdf_text(cadre.post(url, data={"reveal": "true"}))
        assert _id_number("11010519750303003") in full and "13900139003" in full
        from core.audit import AuditEntry
        with pingan(app).db.transaction(county.id) as s:
            reads = s.scalars(select(AuditEntry.changes).where(AuditEntry.action == "read_sensitive",
                                                               AuditEntry.object_type == "person")).all()
        assert sum(1 for c in reads if c.get("case_id") == case["id"]) == 4  # one per party revealed


def test_the_copies_follow_the_countys_setting_and_a_companion_is_no_party(county, login):
    """The copies rule is not in the policy texts: a county setting (``agreement_file_copies``,
    default one kept). Two kept → 一式四份 for two parties; a companion (同行人) is neither a party
    nor given a copy; a person registered as a party without a side is a 当事人."""
    with time_machine.travel(NOW, tick=False):
        admin = login(county, "county.admin")
        r = admin.put("/api/modules/mediation", json={"enabled": True, "settings": {"agreement_file_copies": 2}})
        assert r.status_code == 200, r.get_json()
        cadre = login(county, "village.cadre")
        a, b = person(cadre, county, "王大山"), person(cadre, county, "李小河", phone="13900139000")
        c = person(cadre, county, "赵同行", phone="13700137000")
        case = dispute(cadre, county, parties=[(a, "applicant"), (b, "party"), (c, "companion")])
        listed = cadre.get(f"/api/mediation/disputes/{case['id']}/parties").get_json()
        sides = {p["name"]: p["side_title"] for p in listed}
        assert sides == {"王大山": "申请人", "李小河": "当事人"}
        assert act(cadre, case["id"], "accept", {"consent": True}).status_code == 200
        assert act(cadre, case["id"], "agree", AGREEMENT).status_code == 200
        text = _pdf_text(cadre.get(f"/api/cases/{case['id']}/documents/mediation.agreement"))
        assert "一式四份" in text and "人民调解委员会留存二份" in text and "当事人：李小河" in text
        assert "赵同行" not in text


def test_the_case_page_drafts_the_agreement(county, login):
    """The panel's draft form saves through the same code as the API and links the PDF."""
    import re
    with time_machine.travel(NOW, tick=False):
        cadre = login(county, "village.cadre")
        case = dispute(cadre, county, parties=two_parties(cadre, county))
        assert act(cadre, case["id"], "accept", {"consent": True}).status_code == 200
        page = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
        assert 'id="mediation-draft"' in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        bad = cadre.post(f"/mediation/cases/{case['id']}/draft", data={"csrf_token": token, "issues": "界线"})
        assert bad.status_code == 422
        ok = cadre.post(f"/mediation/cases/{case['id']}/draft", data={"csrf_token": token, **DRAFT})
        assert ok.status_code == 302
        page = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
        assert "documents/mediation.agreement_draft" in page and "草拟调解协议" in page
