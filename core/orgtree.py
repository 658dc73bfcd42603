"""The org tree (ORG-1): create, move and retire units; subtree and ancestor queries.

Materialized path: each unit stores ``/<root id>/…/<own id>/``. Subtree = ``path LIKE
'<path>%'`` served by a prefix index; ancestors = the ids in the path, no query needed.
Moving a subtree rewrites the paths under it in one UPDATE, so everything attached to those
units (by unit id) becomes visible to the new ancestors at once. Retired units stay in the
tree with their history; they take no new children.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.db import next_id, utcnow
from core.errors import Conflict, Invalid
from core.models import OrgLevel, OrgUnit


def within(path: str):
    """SQL predicate: the unit is the one at ``path`` or below it.

    A byte-wise range, ``path >= '/1/5/' AND path < '/1/50'`` ('0' follows '/'), rather than
    ``LIKE '/1/5/%'``: PostgreSQL may not use an index for LIKE on a table with row-level
    security (LIKE is not leakproof), while the comparison operators are. The column has
    ``COLLATE "C"`` there, so the range is byte-wise in any database locale, as on SQLite.
    """
    return (OrgUnit.path >= path) & (OrgUnit.path < path[:-1] + "0")


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMBER = re.compile(r"(\d+|[零〇一二两三四五六七八九十百千]+)")


def _cn_int(run: str) -> int:
    """一 → 1, 十一 → 11, 二十 → 20, 一百零五 → 105; 二〇二六 (digit by digit) → 2026."""
    if not any(ch in _CN_UNITS for ch in run):
        return int("".join(str(_CN_DIGITS[ch]) for ch in run))
    total, digit = 0, None
    for ch in run:
        if ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            digit = _CN_DIGITS[ch]
    return total + (digit or 0)


def natural_key(text: str | None) -> tuple:
    """Sort key reading numbers as numbers, Arabic or Chinese: 一组 二组 … 十组 十一组, and
    T2 before T10 (a plain string sort gives 七 九 八 十一 十 and T10 before T2)."""
    parts = []
    for i, part in enumerate(_NUMBER.split(text or "")):
        if not part:
            continue
        parts.append((0, int(part) if part.isdigit() else _cn_int(part), "") if i % 2 else (1, 0, part))
    return tuple(parts)


def sibling_key(unit: OrgUnit) -> tuple:
    """Order among siblings: active first, then by the county's unit code, then by name."""
    return (unit.status != "active", unit.code is None, natural_key(unit.code), natural_key(unit.name), unit.id)


def tree_order(units: Iterable[OrgUnit]) -> list[OrgUnit]:
    """``units`` depth first, each unit's children in :func:`sibling_key` order; a unit whose
    parent is not among them starts a tree of its own."""
    units = list(units)
    ids = {u.id for u in units}
    children: dict[int | None, list[OrgUnit]] = {}
    for u in units:
        children.setdefault(u.parent_id if u.parent_id in ids else None, []).append(u)
    out: list[OrgUnit] = []
    stack = sorted(children.get(None, []), key=lambda u: (u.path.count("/"), sibling_key(u)), reverse=True)
    while stack:
        unit = stack.pop()
        out.append(unit)
        stack.extend(sorted(children.get(unit.id, []), key=sibling_key, reverse=True))
    return out


def is_root(path: str) -> bool:
    """The county's root unit (``/<id>/``): its subtree is the whole county, nothing to filter."""
    return path.count("/") == 2


def units_under(path: str):
    """Subquery of the ids of the units at ``path`` and below (for ``X.org_unit_id.in_(…)``)."""
    return select(OrgUnit.id).where(within(path))


def path_ids(path: str) -> list[int]:
    """``/1/5/23/`` → ``[1, 5, 23]`` (root first)."""
    return [int(p) for p in path.strip("/").split("/") if p]


def level_ranks(session: Session) -> dict[str, int]:
    return dict(session.execute(select(OrgLevel.key, OrgLevel.rank)).all())


def create_unit(session: Session, *, parent: OrgUnit | None, name: str, level: str,
                code: str | None = None) -> OrgUnit:
    ranks = level_ranks(session)
    if level not in ranks:
        raise Invalid("level", "unknown_level", f"层级“{level}”未在本县配置中定义")
    if parent is None:
        if session.scalar(select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id.is_(None))):
            raise Conflict("root_exists", "本县已有根单位")
    else:
        if parent.status != "active":
            raise Conflict("parent_retired", "上级单位已撤销，不能再新增下级")
        if ranks[level] <= ranks.get(parent.level, -1):
            raise Conflict("level_not_below_parent", "下级单位的层级必须低于上级单位",
                           {"json": {"level": ["下级单位的层级必须低于上级单位"]}})
    uid = next_id(session)
    path = f"{parent.path if parent else '/'}{uid}/"
    unit = OrgUnit(id=uid, parent_id=parent.id if parent else None, path=path,
                   depth=0 if parent is None else parent.depth + 1, level=level, name=name, code=code)
    session.add(unit)
    session.flush()
    return unit


def move_unit(session: Session, unit: OrgUnit, new_parent: OrgUnit) -> OrgUnit:
    """Re-hang ``unit`` and its subtree under ``new_parent``; data follows by unit id."""
    if unit.parent_id is None:
        raise Conflict("cannot_move_root", "根单位不能移动")
    if new_parent.path.startswith(unit.path):
        raise Conflict("move_into_own_subtree", "不能把单位移到它自己的下级之下",
                       {"json": {"parent_id": ["不能把单位移到它自己的下级之下"]}})
    if new_parent.status != "active":
        raise Conflict("parent_retired", "目标上级单位已撤销")
    ranks = level_ranks(session)
    if ranks.get(unit.level, 0) <= ranks.get(new_parent.level, -1):
        raise Conflict("level_not_below_parent", "目标上级单位的层级必须高于本单位",
                       {"json": {"parent_id": ["目标上级单位的层级必须高于本单位"]}})
    if new_parent.id == unit.parent_id:
        return unit
    from core.cases import tally  # the statistics' top tallies follow the subtree's top unit
    old_path = unit.path
    new_path = f"{new_parent.path}{unit.id}/"
    tally.move_subtree(session, old_path, tally.top_id(old_path), tally.top_id(new_path))
    delta = new_parent.depth + 1 - unit.depth
    unit.parent_id = new_parent.id
    session.flush()  # audited as an update of parent_id
    session.execute(
        update(OrgUnit)
        .where(within(old_path))
        .values(path=new_path + func.substr(OrgUnit.path, len(old_path) + 1), depth=OrgUnit.depth + delta)
        .execution_options(synchronize_session=False))
    moved = session.scalar(select(func.count()).select_from(OrgUnit).where(within(new_path)))
    audit.record(session, "move", "org_unit", unit.id, {"path": [old_path, new_path], "units_moved": moved})
    session.expire_all()
    return session.get(OrgUnit, (unit.tenant_id, unit.id))


def retire_unit(session: Session, unit: OrgUnit) -> OrgUnit:
    if unit.status == "retired":
        return unit
    active_children = session.scalar(select(func.count()).select_from(OrgUnit).where(
        OrgUnit.parent_id == unit.id, OrgUnit.status == "active"))
    if active_children:
        raise Conflict("has_active_children", f"该单位还有 {active_children} 个在用的下级单位，请先撤销或移走")
    if unit.parent_id is None:
        raise Conflict("cannot_retire_root", "根单位不能撤销")
    unit.status = "retired"
    unit.retired_at = utcnow()
    session.flush()
    return unit


def ancestors(session: Session, unit: OrgUnit) -> list[OrgUnit]:
    ids = path_ids(unit.path)[:-1]
    if not ids:
        return []
    found = {u.id: u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def network_holders(session: Session, unit: OrgUnit, kinds: list[str], on: date | None = None) -> dict[str, list]:
    """The people who hold each network role ``kind`` for ``unit`` on the day ``on`` (ORG-4).

    A role held at the unit itself counts first; a kind nobody holds there is looked up at
    the nearest ancestor that has it (a 包片领导 is usually recorded at the 管区 or township,
    a 驻村干部 at the village). Returns ``{kind: [NetworkRole, …]}``, empty lists for kinds
    nobody holds anywhere up the tree.
    """
    from core.models import NetworkRole
    on = on or utcnow().date()
    chain = list(reversed(path_ids(unit.path)))  # the unit first, the root last
    rows = session.scalars(select(NetworkRole).where(
        NetworkRole.org_unit_id.in_(chain), NetworkRole.kind.in_(kinds),
        (NetworkRole.started_on.is_(None)) | (NetworkRole.started_on <= on),
        (NetworkRole.ended_on.is_(None)) | (NetworkRole.ended_on >= on)).order_by(NetworkRole.id)).all()
    out: dict[str, list] = {}
    for kind in kinds:
        mine = [r for r in rows if r.kind == kind]
        nearest = min((chain.index(r.org_unit_id) for r in mine), default=None)
        out[kind] = [r for r in mine if nearest is not None and chain.index(r.org_unit_id) == nearest]
    return out
