"""Every document of every built-in module states the facts of the act it records (issue 15,
item 4): rendered for a case of the demo year where that act happened, its PDF names the case,
the unit that acted and the act's date — the same date rule as the screens — and its lines obey
the Chinese line-breaking rules (no line starts with ，。、；：？！）」》), with no blank where a
fact belongs, no spaced quotes, and no English key or internal code (the pages' ASCII sweep).

A module added later is held to it too: its templates are found through the plugin host, and a
template the demo year never reaches fails here until the module's ``pingan_demo_activity``
plays its act.
"""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core.app import pingan
from core.cases.models import Case, CaseEvent
from core.documents import cn_date
from core.models import OrgUnit
from tests.browser.test_browser_pages import ALLOWED_ASCII, ASCII_WORD
from tests.conftest import Client, make_token
from tests.test_demo_activity import _run

NO_LINE_STARTS_WITH = "，。、；：？！）」》"


@pytest.fixture(scope="module")
def year(app):
    county, _, _ = _run(app)
    admin = Client(app, county.host, {"Authorization": f"Bearer {make_token(app, county, 'county.admin')}"})
    return county, admin


def _templates(app) -> list:
    host = pingan(app).plugins
    return [tpl for name in sorted(host.names) if name != "visits"
            for tpl in getattr(host.plugins.get(name), "document_templates", [])]


def _latest_act(s, tpl):
    """The newest case of the template's type whose act (if it records one) happened, and that act."""
    stmt = select(Case, CaseEvent).join(CaseEvent, (CaseEvent.case_id == Case.id) & (CaseEvent.tenant_id == Case.tenant_id))
    if tpl.case_type:
        stmt = stmt.where(Case.case_type == tpl.case_type)
    kinds = tpl.acts or ("registered",)
    return s.execute(stmt.where(CaseEvent.kind.in_(kinds)).order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
                     .limit(1)).first()


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def test_every_document_states_the_facts_of_its_act(app, year, db):
    county, admin = year
    templates = _templates(app)
    assert len(templates) >= 8  # petition's and mediation's documents at least
    problems, unreached = [], []
    for tpl in templates:
        with db.transaction(county.id) as s:
            found = _latest_act(s, tpl)
            if found is None:
                unreached.append(tpl.key)
                continue
            case, event = found
            unit_id = (event.data or {}).get("by_unit_id") or event.org_unit_id or case.org_unit_id
            unit = s.scalar(select(OrgUnit.name).where(OrgUnit.id == unit_id))
            number, when = case.number, cn_date(event.at)
        r = admin.get(f"/api/cases/{case.id}/documents/{tpl.key}")
        if r.status_code != 200:
            problems.append(f"{tpl.key} for {number}: {r.status_code} {r.get_json()}")
            continue
        text = _text(r.data)
        flat = re.sub(r"\s+", "", text)
        wanted = {"the case number": number}
        if tpl.acts:  # the act's own facts: the unit that acted, its date (same rule as the screens)
            wanted |= {"the acting unit": unit, "the act's date": when}
        for what, value in wanted.items():
            if value and re.sub(r"\s+", "", value) not in flat:
                problems.append(f"{tpl.key} for {number}: {what} ({value}) missing")
        starts = [line.strip()[:12] for line in text.splitlines() if line.strip() and line.strip()[0] in NO_LINE_STARTS_WITH]
        if starts:
            problems.append(f"{tpl.key}: lines start with punctuation: {starts[:3]}")
        people_numbers = re.sub(r"[0-9*]{17}[0-9Xx*]", "", text)  # an ID number's check digit X is data
        english = sorted({w for w in re.findall(ASCII_WORD, people_numbers) if w not in ALLOWED_ASCII})
        if english:  # a key, a rule id or an English word in a Chinese document (item 9's rule)
            problems.append(f"{tpl.key}: English or internal codes {english[:5]}")
        for bad in ("至。", "“ ", " ”", "：。", "，，"):
            if bad in text:
                problems.append(f"{tpl.key}: {bad!r} (a blank where a fact belongs, or spaced quotes)")
    assert problems == [], "\n".join(problems)
    assert unreached == [], f"templates the demo year never reaches: {unreached}"
