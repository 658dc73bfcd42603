"""Who is acting and under which request id: context variables read by audit and logging."""
from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str  # "user:zhangsan", "system:worker", "cli:root", "client:<client_id>"


SYSTEM = Actor(None, "system")

_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("pingan_actor", default=SYSTEM)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("pingan_request_id", default=None)


def current_actor() -> Actor:
    return _actor.get()


def current_request_id() -> str | None:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


@contextlib.contextmanager
def acting_as(actor: Actor, request_id: str | None = None) -> Iterator[None]:
    """Run a block as ``actor`` (jobs and CLI commands; web requests set it per request)."""
    t1 = _actor.set(actor)
    t2 = _request_id.set(request_id or _request_id.get() or new_request_id())
    try:
        yield
    finally:
        _request_id.reset(t2)
        _actor.reset(t1)


def set_for_request(actor: Actor, request_id: str) -> tuple:
    return _actor.set(actor), _request_id.set(request_id), _shown_once.set(False)


def reset_for_request(tokens: tuple) -> None:
    _shown_once.reset(tokens[2])
    _request_id.reset(tokens[1])
    _actor.reset(tokens[0])


# A secret the answer shows once (a one-time password, a new token or client secret) must not
# be kept anywhere, not even encrypted: core.idempotency stores no replayable copy of an answer
# whose request called :func:`shows_secret_once` (the retry hears that it was done, not the secret).
_shown_once: contextvars.ContextVar[bool] = contextvars.ContextVar("pingan_shown_once", default=False)


def shows_secret_once() -> None:
    """The current request's answer carries a secret shown this once."""
    _shown_once.set(True)


def answer_shows_secret() -> bool:
    return _shown_once.get()


def set_actor(actor: Actor) -> None:
    """Replace the actor for the rest of the current context (after authentication)."""
    _actor.set(actor)
