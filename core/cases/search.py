"""Chinese keyword search without word segmentation: character bigrams.

A case's searchable text (number, title, content) is normalised (NFKC, lower case) and
cut into tokens: every CJK character and every pair of neighbouring CJK characters, and
every run of letters and digits as a whole. ``Case.search_grams`` stores them space-
separated with a space at each end. A query is cut the same way (bigrams only where the
query has two or more CJK characters in a row) and a case matches when it has every token
of the query — "纠纷" finds "土地纠纷调解" without a dictionary.
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import and_, true

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def _is_cjk(run: str) -> bool:
    return not run[0].isascii()


def grams(*texts: str | None) -> str:
    """The stored token string of a case's text."""
    tokens: set[str] = set()
    for text in texts:
        for run in CJK.findall(_norm(text or "")):
            if _is_cjk(run):
                tokens.update(run)
                tokens.update(run[i:i + 2] for i in range(len(run) - 1))
            else:
                tokens.add(run)
    return " " + " ".join(sorted(tokens)) + " " if tokens else ""


def query_tokens(query: str) -> list[str]:
    """The tokens a case must all have to match ``query``."""
    out: list[str] = []
    for run in CJK.findall(_norm(query)):
        if _is_cjk(run) and len(run) > 1:
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
        else:
            out.append(run)
    return list(dict.fromkeys(out))


def matches(column, query: str):
    """SQL predicate: ``column`` (a grams column) holds every token of ``query``."""
    tokens = query_tokens(query)
    if not tokens:
        return true()
    return and_(*(column.contains(f" {t} ", autoescape=True) for t in tokens))
