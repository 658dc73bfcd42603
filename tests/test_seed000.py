"""Seed fidelity (issue 4): the county in ``tenants/seed000``, configured after seed 000 docs 2
and 5, runs a year (2025) of petitions through its rules.

Time travels (time-machine) so that every limit meets the real 2025 calendar: New Year, the
Spring Festival, Labour Day and the National Day holidays with their adjusted working days
(国务院办公厅关于2025年部分节假日安排的通知, as packaged by chinese-calendar). A limit ends at
24:00 of its last day, stored as the next day's 00:00 Asia/Shanghai.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine

from tests.casework import act
from tests.conftest import load_tenant

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
FOLDER = Path(__file__).resolve().parent.parent / "tenants" / "seed000"
KEY = "petition.case"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def when(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=SHANGHAI)


def end_of(month: int, day: int) -> dt.datetime:
    """A limit whose last day is 2025-month-day: due at the next day's 00:00."""
    return dt.datetime(2025, month, day, tzinfo=SHANGHAI) + dt.timedelta(days=1)


def idn(n: int) -> str:
    body = f"11010519800101{n:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11]


@pytest.fixture(scope="module")
def seed(app):
    return load_tenant(app, folder=FOLDER)


class Year:
    """One travelling clock and fresh sign-ins (the idle timeout would end a session left
    standing for weeks)."""

    def __init__(self, traveller, login, county):
        self.traveller, self.login, self.county = traveller, login, county

    def at(self, moment: dt.datetime, username: str = "mugua.chief"):
        self.traveller.move_to(moment)
        return self.login(self.county, username)

    def petitioner(self, client, n: int, village: str = "MGA1V1", name: str | None = None) -> int:
        r = client.post("/api/persons", json={"name": name or f"村民{n}", "org_unit_id": self.county.unit(village),
                                              "id_number": idn(n), "phone": f"139000{n:05d}"})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    def petition(self, client, people, form="letter", category="land", village="MGA1V1", expect=201, **details):
        r = client.post("/api/cases", json={
            "case_type": KEY, "title": f"{category}问题", "org_unit_id": self.county.unit(village), "content": "反映情况",
            "persons": [{"person_id": p, "role": "petitioner"} for p in people],
            "details": {"form": form, "category": category, **details}})
        assert r.status_code == expect, r.get_json()
        return r.get_json()

    def divert(self, client, case, village="MGA1V1"):
        r = client.post(f"/api/cases/{case['id']}/divert", json={"mode": "single", "tasks": [
            {"org_unit_id": self.county.unit(village), "instruction": "请依规办理"}]})
        assert r.status_code == 200, r.get_json()
        return r.get_json()


def limit(case: dict, rule: str) -> dict:
    return next(d for d in case["deadlines"] if d["rule"] == rule)


def due(case: dict, rule: str) -> dt.datetime:
    return dt.datetime.fromisoformat(limit(case, rule)["due_at"]).astimezone(SHANGHAI)


def test_a_year_of_petitions_in_the_seed_000_county(app, seed, login):
    """rules: PET-1, PET-2, PET-4, PET-6, PET-8 — a year of one township's petitions."""
    with time_machine.travel(when(1, 2), tick=False) as traveller:
        y = Year(traveller, login, seed)
        chief = y.at(when(1, 2))
        # the county's quota for 2025 (the documents give no number: the county decides)
        r = chief.put("/api/petition/quotas", json={"quotas": [
            {"org_unit_id": seed.unit("MGA1V1"), "period": "2025", "kind": "level_skipping", "quota": 1}]})
        assert r.status_code == 200, r.get_json()
        a, b, c = (y.petitioner(chief, n) for n in (1, 2, 3))

        # PET-1 ordinary letter, Thu 2 Jan: 3 days → Sun 5 Jan, a rest day → Mon 6 Jan (Art. 203)
        letter = y.petition(chief, [a])
        assert due(letter, "forward_letter") == end_of(1, 6)
        assert limit(letter, "forward_letter")["source"] == "《信访案件限时办理制度》"  # the county's document
        assert due(letter, "forward") == end_of(1, 17)  # statutory 15 days (Art. 22): Fri 17 Jan
        # PET-1 visit: the same day; diverted only the next morning → missed
        visit = y.petition(y.at(when(1, 2, 15)), [b], form="visit")
        assert due(visit, "forward_visit") == end_of(1, 2)
        y.divert(y.at(when(1, 3, 10)), visit)
        letter = y.divert(y.at(when(1, 3, 11)), letter)
        assert limit(letter, "forward_letter")["met"] is True
        assert limit(y.at(when(1, 3, 12)).get(f"/api/cases/{visit['id']}").get_json(), "forward_visit")["met"] is False

        # PET-1 facts clear, accepted Mon 3 Mar: 5 days → Sat 8 Mar → Mon 10 Mar; answered in time
        clear = y.petition(y.at(when(3, 3)), [c])
        act(y.at(when(3, 3, 10), "village1.cadre"), clear["id"], "accept", {"procedure": "clear"})
        clear = y.at(when(3, 3, 11)).get(f"/api/cases/{clear['id']}").get_json()
        assert due(clear, "close_clear") == end_of(3, 10)
        assert act(y.at(when(3, 10, 16), "village1.cadre"), clear["id"], "reply", {"outcome": "已处理"}).status_code == 200

        # PET-1 complex, accepted Tue 1 Apr: 30 days → Thu 1 May, Labour Day (1–5 May) → Tue 6 May
        complex_ = y.petition(y.at(when(4, 1)), [y.petitioner(y.at(when(4, 1, 8)), 4)])
        act(y.at(when(4, 1, 10)), complex_["id"], "accept", {"procedure": "complex"})
        complex_ = y.at(when(4, 1, 11)).get(f"/api/cases/{complex_['id']}").get_json()
        assert due(complex_, "close_complex") == end_of(5, 6)
        # PET-2: it runs late; the handling unit reports and tells the petitioner, then answers
        report = y.at(when(5, 7, 10)).post(f"/api/petition/cases/{complex_['id']}/situation-report", json={
            "report": "需待土地确权结果", "notice_method": "written", "noticed_on": "2025-05-07"})
        assert report.status_code == 201, report.get_json()
        act(y.at(when(5, 9)), complex_["id"], "reply", {"outcome": "确权后已答复"})

        # PET-1 over the National Day: a letter on Mon 29 Sep, 3 days → Thu 2 Oct (holiday, 1–8 Oct) → Thu 9 Oct
        autumn = y.petition(y.at(when(9, 29, 10)), [y.petitioner(y.at(when(9, 29, 9)), 5)])
        assert due(autumn, "forward_letter") == end_of(10, 9)
        # and the statutory 15 days: Tue 14 Oct, a working day
        assert due(autumn, "forward") == end_of(10, 14)

        # PET-6: the same villager again in June, same category → linked repeat
        again = y.petition(y.at(when(6, 16)), [a])
        assert "repeat" in again["flags"] and again["details"]["repeat_of_id"] == letter["id"]
        # PET-8: a collective visit of 6 (threshold 5)
        crowd = y.petition(y.at(when(6, 17)), [b], form="visit", visitors=6, category="labour")
        assert "collective" in crowd["flags"]

        # PET-4: level-skipping and abnormal petitions reported back during the year
        def escalate(moment, village, level, abnormal=False):
            r = y.at(moment).post("/api/petition/escalations", json={
                "org_unit_id": seed.unit(village), "petitioner": "（上级通报）", "level": level,
                "abnormal": abnormal, "occurred_on": moment.date().isoformat(), "reported_by": "市信访局通报"})
            assert r.status_code == 201, r.get_json()
            return r.get_json()["accountability"]

        assert escalate(when(2, 10), "MGA1V1", "province") == []          # within 一村's quota of 1
        [broken] = escalate(when(7, 15), "MGA1V1", "city")                 # the second: quota broken
        assert {p["name"] for p in broken["persons"]} == {"甲片长", "驻一村干部"}
        [abnormal] = escalate(when(8, 20), "MGA2V7", "beijing", abnormal=True)  # doc 2: any 非正常访
        assert abnormal["kind"] == "abnormal"
        assert {p["name"] for p in abnormal["persons"]} == {"乙片长", "驻七村干部"}
        assert escalate(when(8, 21), "MGA2V8", "county") == []            # no quota set: nothing broken

        # the year in figures
        chief = y.at(when(12, 31, 17))
        usage = chief.get(f"/api/petition/quotas?period=2025&org_unit_id={seed.unit('MG')}").get_json()
        township = {u["kind"]: u["used"] for u in usage if u["org_unit_id"] == seed.unit("MG")}
        assert township == {"level_skipping": 4, "county": 1, "city": 1, "province": 1, "beijing": 1, "abnormal": 1}
        accountability = chief.get(f"/api/petition/accountability?period=2025&org_unit_id={seed.unit('MG')}").get_json()
        assert len(accountability) == 2
        march = chief.get(f"/api/petition/reports/monthly?month=2025-03&org_unit_id={seed.unit('MG')}").get_json()
        assert (march["total"]["received"], march["total"]["on_time"], march["total"]["late"]) == (1, 1, 0)
        april = chief.get(f"/api/petition/reports/monthly?month=2025-04&org_unit_id={seed.unit('MG')}").get_json()
        assert (april["total"]["received"], april["total"]["on_time"], april["total"]["late"]) == (1, 0, 1)
        january = chief.get(f"/api/petition/reports/monthly?month=2025-01&org_unit_id={seed.unit('MG')}").get_json()
        # both January petitions are late: the visit was diverted a day late, and neither village
        # said within 15 days of the diversion whether it accepts (Art. 23; open overdue = late)
        assert (january["total"]["received"], january["total"]["late"]) == (2, 2)
        june = chief.get(f"/api/petition/reports/monthly?month=2025-06&org_unit_id={seed.unit('MG')}").get_json()
        assert (june["total"]["repeats"], june["total"]["collective"]) == (1, 1)
