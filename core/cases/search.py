"""Chinese keyword search without word segmentation: character bigrams.

A case's searchable text (number, title, content) is normalised (NFKC, lower case) and
cut into tokens: every CJK character and every pair of neighbouring CJK characters, and
every run of letters and digits as a whole. ``Case.search_grams`` stores them sorted and
separated by single spaces (no space at either end). A query is cut the same way (bigrams
only where the query has two or more CJK characters in a row) and a case matches when it
has every token of the query — "纠纷" finds "土地纠纷调解" without a dictionary.

How the database finds them (migration ``0004_case_search``):

- **PostgreSQL**: a GIN index over ``string_to_array(search_grams, ' ')``, read through the
  function ``case_search_ids(tenant, tokens)``. Not by putting ``@>`` in the app's own query: under
  row-level security PostgreSQL only lets *leakproof* operators use an index ahead of the
  policy, and no GIN operator is leakproof, so as ``pingan_app`` the index would never be
  used. The function is ``SECURITY DEFINER`` (runs as the schema owner, which must bypass
  RLS for the index to count), filters ``tenant_id`` on its argument and answers nothing
  unless that is the county bound to the transaction (the setting the policy reads); the
  app's query around it is still guarded by the ORM and by RLS.
- **Citus**: the same function, called in a statement (and a transaction) of its own before
  the query (its ``tenant_id = $1`` routes it to the county's shard); the query then takes the
  ids as one array parameter. Inside a query Citus pushes down to a shard it could not run: a shard's
  query may not start a distributed one (docs/citus.md).
- **SQLite** (embedded): ``LIKE '% token %'`` over the padded string — a scan, fine at the
  size of an embedded install.
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import BigInteger, Text, and_, any_, bindparam, func, literal, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from core.db import bound_tenant_id, on_citus

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")
SEARCH_FUNCTION = "case_search_ids"


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def _is_cjk(run: str) -> bool:
    return not run[0].isascii()


def grams(*texts: str | None) -> str:
    """The stored token string of a case's text: ``"纠 纠纷 纷 …"``, sorted, one space apart."""
    tokens: set[str] = set()
    for text in texts:
        for run in CJK.findall(_norm(text or "")):
            if _is_cjk(run):
                tokens.update(run)
                tokens.update(run[i:i + 2] for i in range(len(run) - 1))
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


def matches(query: str, session: Session):
    """SQL predicate on ``Case``: the case's grams hold every token of ``query`` (in the
    county bound to the transaction).

    A query without a searchable character (only punctuation) restricts nothing.
    """
    from core.cases.models import Case
    tokens = query_tokens(query)
    if not tokens:
        return true()
    if session.get_bind().dialect.name == "postgresql":
        ids = select(getattr(func, SEARCH_FUNCTION)(bindparam(None, bound_tenant_id(), type_=BigInteger),
                                                    bindparam(None, tokens, type_=ARRAY(Text))))
        if on_citus(session):
            # in a transaction of its own: the function runs as its owner, and Citus refuses
            # another user's query on shard placements this transaction already wrote to (an
            # export's request has claimed its form token by then)
            with session.get_bind().connect() as own:
                found = own.execute(ids).scalars().all()
            return Case.id == any_(bindparam(None, found, type_=ARRAY(BigInteger)))
        return Case.id.in_(ids)
    padded = literal(" ") + Case.search_grams + literal(" ")
    return and_(*(padded.contains(f" {t} ", autoescape=True) for t in tokens))


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
