"""Title ladders over years (SCO-3, seed 003 "333"): which units earned which title in which
year, from their annual results and the county's ladder settings."""
from __future__ import annotations

from sqlalchemy import select

from .models import Period, Result


def qualified_years(session, level: str, min_score: float) -> dict[int, set[int]]:
    """Year → the units qualified in that year's published annual assessment of ``level``."""
    rows = session.execute(select(Period.year, Result.org_unit_id, Result.total, Result.vetoed)
                           .join(Result, Result.period_id == Period.id)
                           .where(Period.level == level, Period.kind == "year", Period.state != "open")).all()
    out: dict[int, set[int]] = {}
    for year, unit, total, vetoed in rows:
        out.setdefault(year, set())
        if not vetoed and total >= min_score:
            out[year].add(unit)
    return out


def earned(session, ladders: list[dict], level: str) -> dict[str, dict[int, set[int]]]:
    """Title → year → the units that earned it that year. A run of ``times`` consecutive years
    earns the title and starts again; a year missed (or an assessment missing) resets it."""
    rungs = [r for r in ladders if r["level"] == level]
    out: dict[str, dict[int, set[int]]] = {}
    done: set[str] = set()
    while len(done) < len(rungs):
        progress = False
        for rung in rungs:
            if rung["title"] in done or (rung["after"] and rung["after"] not in done):
                continue
            base = (qualified_years(session, level, rung["min_score"]) if not rung["after"]
                    else out[rung["after"]])
            out[rung["title"]] = _runs(base, rung["times"], years_in_a_row=not rung["after"])
            done.add(rung["title"])
            progress = True
        if not progress:        # a rung naming a title no rung gives: nothing to earn
            break
    return out


def _runs(base: dict[int, set[int]], times: int, years_in_a_row: bool) -> dict[int, set[int]]:
    """Year → the units whose count reaches ``times`` that year. Years in a row: a unit missing
    from a year falls out of the count; otherwise only its own awards count."""
    out: dict[int, set[int]] = {}
    run: dict[int, int] = {}
    if not base:
        return out
    for year in range(min(base), max(base) + 1):
        units = base.get(year, set())
        if years_in_a_row:
            run = {u: run.get(u, 0) + 1 for u in units}   # a unit not qualified this year: reset
        else:
            run.update({u: run.get(u, 0) + 1 for u in units})
        out[year] = {u for u, n in run.items() if n >= times}
        for u in out[year]:
            run[u] = 0
    return out


def titles_of_year(session, ladders: list[dict], level: str, year: int) -> dict[int, list[str]]:
    """Unit → the titles it earned in ``year``."""
    out: dict[int, list[str]] = {}
    for title, by_year in earned(session, ladders, level).items():
        for unit in by_year.get(year, ()):
            out.setdefault(unit, []).append(title)
    return out


def creation_progress(session, targets: list[dict], year: int, units_of) -> list[dict]:
    """Each target of ``year``: the level's units, those qualified, the share and whether it is met,
    and the units still short. ``units_of(level)`` gives the level's units."""
    out = []
    for t in (t for t in targets if t["year"] == year):
        units = units_of(t["level"])
        ok = qualified_years(session, t["level"], t["min_score"]).get(year, set())
        reached = [u for u in units if u.id in ok]
        share = round(100.0 * len(reached) / len(units), 1) if units else 0.0
        out.append({"level": t["level"], "year": year, "percent": t["percent"], "total": len(units),
                    "reached": len(reached), "share": share, "met": share >= t["percent"],
                    "short": [u for u in units if u.id not in ok]})
    return out
