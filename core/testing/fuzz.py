"""Schemathesis over the OpenAPI document: positive, negative and "edge" requests to the real
app as one user of one county, with every check (no 5xx, answers that match the schema, auth
that is not ignored, invalid input refused). Needs the ``schemathesis`` and ``hypothesis``
packages (``pip install 'pingan[test]'``).

``tests/test_schemathesis.py`` runs it over every operation; a plugin runs it over its own
(``/api/<plugin>…``) with :func:`run_plugin_schemathesis`.
"""
from __future__ import annotations

import collections
import itertools
import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

# Edge values (issue 14, finding 11): a valid request with every integer and every date or
# time in it replaced by a value past what the database or the calendar can hold.
EDGE_INTS = [2**63, -(2**63) - 1, 10**20]
EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
EDGE_DATES = ["0001-01-01", "9999-12-31"]
# digits of other scripts: str.isdigit() is true of them, int("²") raises (a 500 once: issue 14 finding 11)
NON_ASCII_DIGITS = ["²", "١٢", "１２"]
EDGE_INT_TEXTS = [*(str(i) for i in EDGE_INTS), *NON_ASCII_DIGITS]
TIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def expressible(case) -> bool:
    """Leave out of *positive* generation what OpenAPI cannot describe (each has its own test).

    - a ``cursor``: an opaque token the server mints (invalid ones → 422);
    - an ``expires_at``: OpenAPI has no "in the future" (→ 422);
    - a time-limit preview that starts outside 2000–2099 (→ 422);
    - a date or time outside 1900–2999 or an integer past 64 bits: OpenAPI cannot bound them
      (→ 422 out_of_range, core/bounds.py; the "edges" class sends them on purpose).
    Negative generation still sends them, and must get a 4xx.
    """
    if case.query and "cursor" in case.query:
        return False
    if beyond_bounds(case.query) or beyond_bounds(case.path_parameters) or beyond_bounds(case.body):
        return False
    if case.query and case.operation.path == "/api/calendar/deadline":
        start = str(case.query.get("start", ""))[:4]
        if not start.isdigit() or not 2000 <= int(start) <= 2099:  # OpenAPI has no date range (→ 422)
            return False
    body = case.body if isinstance(case.body, dict) else {}
    return not body.get("expires_at")


def beyond_bounds(value) -> bool:
    """Whether a value (nested) holds a number, date or time the platform refuses as out of range."""
    import datetime as dt

    from core import bounds
    if isinstance(value, dict):
        return any(beyond_bounds(v) for v in value.values())
    if isinstance(value, list):
        return any(beyond_bounds(v) for v in value)
    if isinstance(value, str) and TIME_SHAPE.match(value):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))  # a date parses as its midnight
        except ValueError:
            return False
    return bounds.problem(value) is not None


def with_edge_values(case):
    """Every integer (digit-only strings too: path ids), date and time of ``case`` at an edge;
    an integer in the path or the query (text there) also as digits of other scripts ("²")."""
    turn = itertools.count()

    def edge(value, textual=False):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and textual:
            return EDGE_INT_TEXTS[next(turn) % len(EDGE_INT_TEXTS)]
        if isinstance(value, int):
            return EDGE_INTS[next(turn) % len(EDGE_INTS)]
        if isinstance(value, str) and value.isdigit():
            return EDGE_INT_TEXTS[next(turn) % len(EDGE_INT_TEXTS)]
        if isinstance(value, str) and TIME_SHAPE.match(value):
            return (EDGE_TIMES if "T" in value else EDGE_DATES)[next(turn) % 2]
        if isinstance(value, dict):
            return {k: edge(v, textual) for k, v in value.items()}
        if isinstance(value, list):
            return [edge(v, textual) for v in value]
        return value
    if case.path_parameters:
        case.path_parameters = edge(case.path_parameters, textual=True)
    if case.query:
        case.query = edge(case.query, textual=True)
    if isinstance(case.body, (dict, list)):
        case.body = edge(case.body)
    return case


@dataclass
class FuzzRun:
    """What a run did: operations fuzzed, the checks made, requests per class, and every failed check."""
    operations: int = 0
    checks: list[str] = field(default_factory=list)
    probes: collections.Counter = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)


def run_schemathesis(app, host: str, token: str, *, paths: Callable[[str], bool] = lambda path: True,
                     negative_only: Collection[tuple[str, str]] = (),
                     valid: Callable = lambda case: case, max_examples: int = 15) -> FuzzRun:
    """Fuzz the operations whose path ``paths`` accepts, on ``host`` with the bearer ``token``.

    Per operation: positive requests (those :func:`expressible`, then passed through ``valid``
    to carry values only the county or a checksum decides), negative ones, and "edges" (valid
    requests at :data:`EDGE_INTS`/times/dates, where any answer but a 5xx passes).
    ``negative_only``: (METHOD, path) pairs whose valid bodies OpenAPI cannot describe. The draw
    is fixed (reproducible); ``PINGAN_FUZZ_RANDOM=1`` explores new inputs each run.
    """
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, base_url=f"http://{host}")
    checks = list(schemathesis.checks.CHECKS.get_all())  # every check (registered once a schema is loaded)
    edge_checks = [c for c in checks if c.__name__ == "not_a_server_error"]
    out = FuzzRun(checks=[c.__name__ for c in checks])
    for result in schema.get_all_operations():
        operation = result.ok()
        if not paths(operation.path):
            continue
        out.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE, "edges"):
            label = getattr(mode, "value", mode)
            if mode is GenerationMode.POSITIVE and (operation.method.upper(), operation.path) in negative_only:
                continue
            strategy = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE if mode is GenerationMode.NEGATIVE
                                             else GenerationMode.POSITIVE)
            if mode is GenerationMode.POSITIVE:
                strategy = strategy.filter(expressible).map(valid)
            if mode == "edges":
                strategy = strategy.map(valid).map(with_edge_values)

            @given(case=strategy)
            @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck),
                      database=None, derandomize=not os.environ.get("PINGAN_FUZZ_RANDOM"))
            def run(case):
                out.probes[f"api {run.label}"] += 1
                case.call_and_validate(base_url=f"http://{host}", headers={"Authorization": f"Bearer {token}"},
                                       checks=edge_checks if run.label == "edges" else checks)
            run.label = label
            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 — collect all, then report
                out.failures.append(f"{operation.label} [{label}]: {str(exc)[:1500]}")
    return out


def run_plugin_schemathesis(app, plugin: str, county, *, username: str = "county.admin",
                            negative_only: Collection[tuple[str, str]] = (), valid: Callable = lambda case: case,
                            max_examples: int = 15) -> FuzzRun:
    """Schemathesis over the plugin's own operations (``/api/<plugin>`` and below) as
    ``username`` of ``county`` (the plugin on there): no 5xx, every answer as the OpenAPI
    document says, invalid input refused. Fails with every failed check; returns the run."""
    from core.testing.clients import make_token
    prefix = f"/api/{plugin}"
    run = run_schemathesis(app, county.host, make_token(app, county, username),
                           paths=lambda path: path == prefix or path.startswith(prefix + "/"),
                           negative_only=negative_only, valid=valid, max_examples=max_examples)
    assert run.operations > 0, f"the OpenAPI document has no operation under {prefix}"
    assert run.failures == [], "\n\n".join(run.failures)
    return run
