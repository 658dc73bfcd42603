"""Chinese keyword search without word segmentation: character bigrams.

A case's searchable text (number, title, content) is normalised (NFKC, lower case) and
cut into tokens: every CJK character and every pair of neighbouring CJK characters, and
every run of letters and digits as a whole. ``Case.search_grams`` stores them sorted and
separated by single spaces (no space at either end). A query is cut the same way (bigrams
only where the query has two or more CJK characters in a row) and a case matches when it
has every token of the query — "纠纷" finds "土地纠纷调解" without a dictionary.

How the database finds them (migrations ``0004_case_search``, ``0013_search_scope``):

- **PostgreSQL**: a GIN index over ``string_to_array(search_grams, ' ')``, read through the
  function ``case_search_ids(tenant, tokens, paths, lim)``. Not by putting ``@>`` in the app's
  own query: under row-level security PostgreSQL only lets *leakproof* operators use an index
  ahead of the policy, and no GIN operator is leakproof, so as ``pingan_app`` the index would
  never be used. The function is ``SECURITY DEFINER`` (runs as the schema owner, which must
  bypass RLS for the index to count), filters ``tenant_id`` on its argument and answers nothing
  unless that is the county bound to the transaction (the setting the policy reads). It
  applies the user's scope (the subtrees ``paths`` where they read cases: arose there or a
  granting task there, as ``core.cases.access``) and a limit *inside* the index query, each
  call planned for its values: at most :data:`CANDIDATES` + 1 ids (:data:`SMALL_SCOPE_CANDIDATES`
  + 1 in a village-sized scope; issue 24: it used to return
  every match of the county, 178,585 ids for 纠纷, before the scope and ``LIMIT 20``). If the
  user's scope holds at most :data:`CANDIDATES` matches they are the whole answer: the list
  query takes them as one array parameter. If it holds more, the words are common there, and
  the list query checks each row's grams (``@>``, estimated from the index's statistics) as it
  walks its order's index: a page of them is found after a few hundred rows. Both
  statements run under :func:`bounded`, so a search that cannot be answered fast ends with 503
  ``search_timeout`` and a message, never after the web's 15-second statement limit.
- **Citus**: the same function, called in a statement (and a transaction) of its own before
  the query (its ``tenant_id = $1`` routes it to the county's shard); the query then takes the
  ids as one array parameter. Inside a query Citus pushes down to a shard it could not run: a shard's
  query may not start a distributed one (docs/citus.md).
- **SQLite** (embedded): ``LIKE '% token %'`` over the padded string — a scan, fine at the
  size of an embedded install.
"""
from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterator

from sqlalchemy import BigInteger, Integer, Text, and_, any_, bindparam, event, false, func, literal, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.db import bound_tenant_id, on_citus
from core.errors import ServiceUnavailable

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")
SEARCH_FUNCTION = "case_search_ids"
# the most matching ids of the user's scope handed to the list query as a list; more means
# the words are common in the scope, and the query finds a page of them row by row
CANDIDATES = 1000
# … in a small scope (a village: at most access.SMALL_SCOPE units). There the row-by-row walk
# reads every case of the scope, which a busy village has by the ten thousand (17,642 cases,
# 1,076 of them with 宅基地: 55 ms to walk, 8 ms to fetch the ids' rows; bench/results/search_quiet.md)
SMALL_SCOPE_CANDIDATES = 4000
BOUNDED = "pingan_search_bounded"  # execution option: run the statement under ``bounded``
TIMEOUT_MESSAGE = "关键词搜索未能在 {seconds} 秒内完成，请换用更具体的关键词，或加上单位、时间等条件缩小范围后再试"


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def _is_cjk(run: str) -> bool:
    return not run[0].isascii()


def grams(*texts: str | None) -> str:
    """The stored token string of a case's text: ``"纠 纠纷 纷 …"``, sorted, one space apart."""
    tokens: set[str] = set()
    for text in texts:
        if not text:
            continue
        for run in CJK.findall(_norm(text)):
            if _is_cjk(run):
                tokens.update(run)
                tokens.update(map(str.__add__, run, run[1:]))  # the bigrams (a ledger import makes 100,000)
            else:
                tokens.add(run)
    return " ".join(sorted(tokens))


def query_tokens(query: str) -> list[str]:
    """The tokens a case must all have to match ``query``."""
    out: list[str] = []
    for run in CJK.findall(_norm(query)):
        if _is_cjk(run) and len(run) > 1:
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
        else:
            out.append(run)
    return list(dict.fromkeys(out))


def matches(query: str, session: Session, paths: tuple[str, ...] | None = None):
    """SQL predicate on ``Case``: the case's grams hold every token of ``query`` (in the
    county bound to the transaction).

    ``paths``: the subtrees where the user reads cases (``None``: the whole county); on
    PostgreSQL the index query looks only there (the list query still applies ``readable``).
    A query without a searchable character (only punctuation) restricts nothing.
    """
    from core.cases.models import Case
    tokens = query_tokens(query)
    if not tokens:
        return true()
    if paths is not None and not paths:
        return false()  # the user reads cases nowhere
    if session.get_bind().dialect.name == "postgresql":
        found = candidates(session, tokens, paths)
        if found is not None:
            return Case.id == any_(bindparam(None, found, type_=ARRAY(BigInteger)))
        # row by row, ``@>`` (not LIKE): the planner estimates it from the statistics of the GIN
        # index's expression and walks the list's index; LIKE '% 宅基 %' it estimates at one row
        # and reads the county's 950,000 cases by type instead (3 s, bench/results/search.md)
        grams = func.string_to_array(Case.search_grams, literal(" "), type_=ARRAY(Text))
        return grams.contains(bindparam(None, tokens, type_=ARRAY(Text)))
    padded = literal(" ") + Case.search_grams + literal(" ")
    return and_(*(padded.contains(f" {t} ", autoescape=True) for t in tokens))


def candidates(session: Session, tokens: list[str], paths: tuple[str, ...] | None) -> list[int] | None:
    """The ids of every case of the scope matching ``tokens`` if there are at most
    :data:`CANDIDATES` (:data:`SMALL_SCOPE_CANDIDATES` in a small scope), else ``None``
    (PostgreSQL: ``case_search_ids`` through the GIN index)."""
    from core.cases.access import small_scope_ids
    cap = SMALL_SCOPE_CANDIDATES if paths and small_scope_ids(session, paths) is not None else CANDIDATES
    call = select(getattr(func, SEARCH_FUNCTION)(
        bindparam(None, bound_tenant_id(), type_=BigInteger), bindparam(None, tokens, type_=ARRAY(Text)),
        bindparam(None, list(paths) if paths is not None else None, type_=ARRAY(Text)),
        bindparam(None, cap + 1, type_=Integer)))
    if on_citus(session):
        # in a transaction of its own: the function runs as its owner, and Citus refuses
        # another user's query on shard placements this transaction already wrote to (an
        # export's request has claimed its form token by then)
        with session.get_bind().connect() as own:
            with bounded(own):
                rows = own.execute(call).scalars().all()
    else:
        with bounded(session):
            rows = session.execute(call).scalars().all()
    if len(rows) > cap:  # (a case may come twice: arose in scope and has a task there)
        return None
    return sorted(set(rows))


def timeout_seconds() -> float:
    """``PINGAN_SEARCH_TIMEOUT_SECONDS``: the longest a search statement may run."""
    from core.config import env
    try:
        return max(0.0, float(env("PINGAN_SEARCH_TIMEOUT_SECONDS") or 3))
    except (KeyError, ValueError):
        return 3.0


@contextlib.contextmanager
def bounded(conn) -> Iterator[None]:
    """Run the statements inside under PostgreSQL's ``statement_timeout`` for searches (a
    session or a connection; the transaction's own limit comes back after, unless lower).

    A statement cancelled by it answers 503 ``search_timeout`` with a message saying to narrow
    the search: a broad search must not hold a connection and a core for the web's 15 s.
    """
    seconds = timeout_seconds()
    bind = conn.get_bind() if hasattr(conn, "get_bind") else conn  # a (scoped) session or a connection
    if bind.dialect.name != "postgresql" or not seconds:
        yield
        return
    # one round trip: keep the transaction's limit if it is already as short
    old = conn.execute(text(
        "SELECT current_setting('statement_timeout'), set_config('statement_timeout', CASE WHEN "
        "current_setting('statement_timeout')::interval > interval '0' AND "
        "current_setting('statement_timeout')::interval <= make_interval(secs => :s) "
        "THEN current_setting('statement_timeout') ELSE :v END, true)"),
        {"s": seconds, "v": f"{int(seconds * 1000)}ms"}).scalar()
    try:
        yield
    except DBAPIError as e:
        if getattr(e.orig, "sqlstate", None) == "57014":
            raise ServiceUnavailable("search_timeout", TIMEOUT_MESSAGE.format(seconds=f"{seconds:g}"),
                                     retry_after=5, cause="57014 search statement timeout") from e
        raise
    conn.execute(text("SELECT set_config('statement_timeout', :v, true)"), {"v": old})


@event.listens_for(Session, "do_orm_execute")
def _bound_search(state):
    """A statement carrying the :data:`BOUNDED` option (``queries.filtered`` with ``q``) runs
    under :func:`bounded` wherever it is executed (list, web page, statistics)."""
    if not state.execution_options.get(BOUNDED) or not (state.is_select or state.is_update or state.is_delete):
        return None
    if state.session.get_bind().dialect.name != "postgresql":
        return None
    with bounded(state.session):
        frozen = state.invoke_statement().freeze()
    return frozen()


def prefix(column, value: str, dialect: str):
    """SQL predicate: ``column`` starts with ``value``, as a byte-wise range an index can serve.

    Not ``LIKE 'value%'``: LIKE is not leakproof, so under RLS PostgreSQL would read every
    case of the county (the lesson of ``core.orgtree.within``). The range is compared in
    the "C" collation there (index ``ix_case_record_number_c``); SQLite compares bytes.
    """
    col = column.collate("C") if dialect == "postgresql" else column
    cond = col >= value
    last = ord(value[-1])
    if last < 0x10FFFF:
        nxt = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1  # no surrogates in UTF-8
        cond = and_(cond, col < value[:-1] + chr(nxt))
    else:
        cond = and_(cond, column.startswith(value, autoescape=True))
    return cond
