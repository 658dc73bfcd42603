"""Helpers for the case-engine tests (the ``county`` fixture in conftest turns the example plugin on)."""
from __future__ import annotations

VISIT = "visits.visit"


def grant(db, county, username: str, perms: list[str], unit: str = "C", key: str = "petition_t") -> None:
    """Give ``username`` a role ``key`` with ``perms`` on ``unit``'s subtree (as a county's
    tenant.toml would); the role is made on first use."""
    from sqlalchemy import select

    from core.models import Role, RoleAssignment, RolePermission, User
    with db.transaction(county.id) as s:
        user = s.scalar(select(User).where(User.username == username))
        role = s.scalar(select(Role).where(Role.key == key))
        if role is None:
            role = Role(key=key, name=key)
            s.add(role)
            s.flush()
            s.add_all([RolePermission(role_id=role.id, permission=p) for p in perms])
        s.add(RoleAssignment(user_id=user.id, role_id=role.id, org_unit_id=county.unit(unit)))


def register(client, unit_id: int, title: str = "请求上门走访：独居老人", **extra) -> dict:
    body = {"case_type": VISIT, "title": title, "org_unit_id": unit_id, "content": "王大爷独居，请求村里上门看看",
            "channel": "visit", "details": {"visit_kind": "home"}, **extra}
    r = client.post("/api/cases", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def act(client, case_id: int, name: str, body: dict | None = None):
    return client.post(f"/api/cases/{case_id}/transitions/{name}", json=body or {})


def events(client, case_id: int) -> list[str]:
    r = client.get(f"/api/cases/{case_id}/events")
    assert r.status_code == 200, r.get_json()
    return [e["kind"] for e in r.get_json()]


def run_jobs(app) -> None:
    """Run every queued job now: the in-process queue, or a burst rq worker on Redis."""
    from core import jobs
    from core.app import pingan
    state = pingan(app)
    jobs.bind_state(state)
    q = jobs.queue(state.config)
    if isinstance(q, jobs.InProcessQueue):
        q.run_pending()
    else:
        from rq import SimpleWorker  # urgent, then bulk; leaving without rq's 60-s pub/sub wait
        jobs.worker_class(SimpleWorker)(q.queues, connection=q.redis).work(burst=True)


RAN: list[dict] = []


def record_ran(session, **kwargs) -> None:
    """An outbox job for tests: remembers that (and with what) it ran."""
    RAN.append(kwargs)
