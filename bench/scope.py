"""Figure 2: resolving a user's scope and checking a permission, per request (µs).

    .venv/bin/python bench/scope.py [--n 2000]      # needs `bench/orgtree.py generate` first

On the benchmark database (PostgreSQL, as role ``pingan_app`` with RLS, tenant bound as in a
request), for a user holding five role assignments (five roles on five units of the median
tenant, created here once, idempotently):

- ``core.authz.load_grants`` (one query, database round trip included), inside an already open
  transaction as in a request, and with its own transaction (BEGIN + set_config + query);
- ``load_grants`` + ``Grants.covers`` (what ``get_or_404`` does for an org unit) and
  ``load_grants`` + ``authz.may`` (which looks up the object's unit path: a second query);
- the pure in-memory part: ``covers``/``has``/``require`` on a hit and a miss, and building
  ``Grants`` from the fetched rows (``_minimal``);
- for scale, the same grants query sent with psycopg directly.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import STATS_HEADER, machine, measure, now_utc, write_result  # noqa: E402
from orgtree import APP_ROLE, MARKER, Capture, Replayer, load_meta, make_app  # noqa: E402

ROLES = {  # key → permissions (five different bundles)
    "bench_township_admin": ["core.org_unit.read", "core.org_unit.manage", "core.user.read", "core.person.read"],
    "bench_viewer": ["core.org_unit.read", "core.member_unit.read", "core.network_role.read"],
    "bench_village_cadre": ["core.org_unit.read", "core.person.read", "core.person.manage"],
    "bench_pii": ["core.person.read", "core.person.pii.read"],
    "bench_auditor": ["core.audit.read", "core.org_unit.read", "core.role.read"],
}
USERNAME = "scope.bench"


def setup(app, tenant_id: int):
    """The user and its five assignments (idempotent); returns (user id, units by purpose)."""
    from sqlalchemy import select
    from core.app import pingan
    from core.context import Actor, acting_as
    from core.models import OrgUnit, Role, RoleAssignment, RolePermission, User
    db = pingan(app).db
    with acting_as(Actor(None, "bench:scope")), db.transaction(tenant_id) as s:
        towns = s.scalars(select(OrgUnit).where(OrgUnit.level == "township").order_by(OrgUnit.id)).all()
        villages = s.scalars(select(OrgUnit).where(OrgUnit.level == "village").order_by(OrgUnit.id)).all()
        root = s.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)))
        # five units: two townships, two villages in a third township, one more township
        targets = [towns[0], towns[1], villages[-1], villages[-2], towns[2]]
        user = s.scalar(select(User).where(User.username == USERNAME))
        if user is None:
            user = User(username=USERNAME, display_name="范围基准", org_unit_id=root.id, must_change_password=False)
            s.add(user)
            s.flush()
        for (key, perms), unit in zip(ROLES.items(), targets):
            role = s.scalar(select(Role).where(Role.key == key))
            if role is None:
                role = Role(key=key, name=key)
                s.add(role)
                s.flush()
                for p in perms:
                    s.add(RolePermission(role_id=role.id, permission=p))
            if not s.scalar(select(RoleAssignment.id).where(RoleAssignment.user_id == user.id,
                                                           RoleAssignment.role_id == role.id)):
                s.add(RoleAssignment(user_id=user.id, role_id=role.id, org_unit_id=unit.id))
        s.flush()
        n_assign = len(s.scalars(select(RoleAssignment.id).where(RoleAssignment.user_id == user.id)).all())
        inside = s.scalar(select(OrgUnit).where(OrgUnit.path.like(towns[0].path + "%"), OrgUnit.level == "grid")
                          .order_by(OrgUnit.id).limit(1))
        outside = s.scalar(select(OrgUnit).where(OrgUnit.path.like(towns[-1].path + "%"), OrgUnit.level == "grid")
                           .order_by(OrgUnit.id).limit(1))
        return user.id, n_assign, (inside.id, inside.path), (outside.id, outside.path)


def run(n: int, warmup: int) -> str:
    from core import authz
    from core.app import pingan
    from core.db import bind_tenant
    meta = load_meta()
    tenants = sorted(meta["per_tenant"], key=lambda t: t["units"])
    tenant = tenants[len(tenants) // 2]
    app = make_app(Path(tempfile.mkdtemp(prefix="pingan-bench-")))
    db = pingan(app).db
    uid, n_assign, (in_id, in_path), (out_id, out_path) = setup(app, tenant["tenant_id"])
    perm = "core.org_unit.read"
    res = {}
    cap = Capture(db.engine)
    with app.app_context(), bind_tenant(tenant["tenant_id"]):
        s = db.Session()
        grants = authz.load_grants(s, uid)  # opens the transaction (set_config), as a request has
        rows_query = cap.record(lambda: authz.load_grants(s, uid))
        res["load_grants (one query; transaction already open, as in a request)"] = measure(
            lambda: authz.load_grants(s, uid), n, warmup)
        res["load_grants + Grants.covers (hit)"] = measure(
            lambda: authz.load_grants(s, uid).covers(perm, in_path), n, warmup)
        res["load_grants + authz.may (hit; may looks up the unit's path: 2nd query)"] = measure(
            lambda: authz.may(s, authz.load_grants(s, uid), perm, in_id), n, warmup)
        res["authz.may alone (grants in hand; one query)"] = measure(
            lambda: authz.may(s, grants, perm, out_id), n, warmup)
        s.rollback()
        s.close()

        def own_tx():
            with db.Session() as s2:
                authz.load_grants(s2, uid).covers(perm, in_path)
                s2.rollback()
        res["own transaction: BEGIN + set_config + load_grants + covers + ROLLBACK"] = measure(own_tx, n, warmup)

        fetched = [tuple(r) for r in db.Session().execute(authz.select(authz.RolePermission.permission,
                                                                       authz.OrgUnit.path)
                   .join(authz.RoleAssignment, (authz.RoleAssignment.role_id == authz.RolePermission.role_id))
                   .join(authz.OrgUnit, authz.OrgUnit.id == authz.RoleAssignment.org_unit_id)
                   .where(authz.RoleAssignment.user_id == uid)).all()]
        db.session.remove()

    def build():
        acc: dict[str, set[str]] = {}
        for p, path in fetched:
            acc.setdefault(p, set()).add(path)
        return authz.Grants(uid, {p: authz._minimal(paths) for p, paths in acc.items()})
    inner = 1000
    mem = {
        "Grants.covers — hit (unit inside a granted subtree)": lambda: grants.covers(perm, in_path),
        "Grants.covers — miss (unit outside every granted subtree)": lambda: grants.covers(perm, out_path),
        "Grants.has": lambda: grants.has(perm),
        "authz.require (holds it)": lambda: authz.require(grants, perm),
        "Grants.restrict(None) (a token without scopes)": lambda: grants.restrict(None),
        f"building Grants from the {len(fetched)} fetched rows (_minimal)": build,
    }
    mres = {k: measure(f, max(200, n // 4), 20, inner=inner) for k, f in mem.items()}

    stmt = [e for e in rows_query if e[0] == "exec"][-1]
    rep = Replayer()
    res["for scale: the grants query via psycopg (own tx with SET LOCAL)"] = measure(
        lambda: rep.tx(tenant["tenant_id"], [(stmt[1], stmt[2])]), n, warmup)

    L = ["# Scope resolution and permission checks (figure 2)\n",
         f"- date: {now_utc()}", f"- machine: {machine()}",
         f"- database: PostgreSQL `pingan_bench` (see orgtree.md), app role `{APP_ROLE}` with RLS; tenant "
         f"{tenant['tenant_id']} ({tenant['units']:,} units, the median tenant)",
         f"- user `{USERNAME}` with {n_assign} role assignments (five roles, {len(fetched)} "
         f"(permission, unit path) rows; grants on `{perm}`: {len(grants.paths(perm))} subtrees; "
         f"{len(grants.by_perm)} permissions)",
         f"- n = {n} per database series after {warmup} warm-up calls; in-memory series: n = {max(200, n // 4)} "
         f"batches of {inner} calls, per-call time = batch / {inner}",
         "", "## With the database round trip (in-process, SQLAlchemy session as in a request)\n",
         f"series | {STATS_HEADER}", "---|---|---|---|---|---|---"]
    L += [f"{k} | {v.row()}" for k, v in res.items()]
    L += ["", "## Pure in-memory\n", f"series | {STATS_HEADER}", "---|---|---|---|---|---|---"]
    L += [f"{k} | {v.row()}" for k, v in mres.items()]
    L += ["", "The grants query, as emitted:\n", "```sql", stmt[1], "```", ""]
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    a = ap.parse_args()
    from orgtree import save
    print(f"wrote {save(run(a.n, a.warmup), 'scope')}")


if __name__ == "__main__":
    main()
