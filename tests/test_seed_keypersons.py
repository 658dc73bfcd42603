"""Seed fidelity (issue 20, POLICY-RULES JNT-4): the county of seed 000 doc 5 (tenants/seed000b)
"对全县农村546名暂住人口进行了全面排查并登记建档；对全县农村121名高危人口实现了全员建立档案…
农村三年来96名刑释解教人员接茬率达到了100%…安置率达到了80%，重新犯罪率为零". Its registers are
built as records (direct inserts: 763 records through HTTP would be slow) registered at the start
of the three years, and the figures the county reports are computed from them."""
from __future__ import annotations

import datetime as dt
import json

import time_machine

from core.app import pingan
from core.models import Person
from core.workdays import SHANGHAI
from plugins.keypersons.categories import CATEGORIES
from plugins.keypersons.models import KeyPerson
from tests.conftest import ROOT, load_tenant

START, END = dt.date(2023, 3, 1), dt.date(2026, 2, 28)   # "三年来"


def _build(app, county) -> None:
    """96 released (all handed over, 77 placed, none re-offending), 121 高危人口, 546 暂住人口,
    spread over the three villages."""
    villages = [county.unit(c) for c in ("XV1", "XV2", "XV3")]
    with pingan(app).db.transaction(county.id) as s:
        people = [Person(name=f"居民{i}", org_unit_id=villages[i % 3]) for i in range(96 + 121 + 546)]
        s.add_all(people)
        s.flush()
        rows = []
        for i, person in enumerate(people):
            if i < 96:
                key, details = "released", {"offence": "盗窃罪", "release_date": (START + dt.timedelta(days=11 * i)).isoformat(),
                                            "handover_date": (START + dt.timedelta(days=11 * i + 2)).isoformat(),
                                            "placed": i < 77, "helped": True, "reoffended": False}
            else:
                key, details = ("concern" if i < 96 + 121 else "floating"), {"note": ""}
            rows.append(KeyPerson(person_id=person.id, org_unit_id=person.org_unit_id, category=key,
                                  category_bidx=CATEGORIES[key].bidx, risk_level="medium",
                                  details=json.dumps(details, ensure_ascii=False),
                                  next_visit_due=END + dt.timedelta(days=30),
                                  created_at=dt.datetime(2023, 3, 1, tzinfo=SHANGHAI)))   # registered then
        s.add_all(rows)


def test_doc5_figures_are_computed_from_the_records(app, login):
    # rule: JNT-4 (seed 000 doc 5: 546 暂住人口, 121 高危人口, 96 刑释解教人员, 接茬率 100 %, 安置率 80 %)
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI), tick=False):
        county = load_tenant(app, folder=ROOT / "tenants" / "seed000b")
        _build(app, county)
        admin = login(county, "county.admin")
        r = admin.get(f"/api/keypersons/figures?under={county.unit('C')}&start={START}&end={END}")
        assert r.status_code == 200, r.get_json()
        f = r.get_json()
        assert f["counts"] == {"released": 96, "concern": 121, "floating": 546}
        released = f["released"]
        assert released["count"] == 96 and released["handover_rate"] == 100.0
        assert round(released["placement_rate"]) == 80 and released["placed"] == 77
        assert released["reoffended"] == 0 and f["reoffences"] == 0
        page = admin.get(f"/keypersons/figures?start={START}&end={END}").get_data(as_text=True)
        assert "高危人口" in page and "接茬率" in page and "100.0%" in page and "80.2%" in page
