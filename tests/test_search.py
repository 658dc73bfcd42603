"""Issue 3 "Search and statistics": finding cases by Chinese keywords (character bigrams, no
word segmentation), by number prefix and by person (name, or ID number / phone through the
blind index). On PostgreSQL the keyword search and the number prefix use their indexes as
the app role, under row-level security."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import create_engine, select, text

from core.app import pingan
from core.cases import search
from core.demo import fake_id_number
from tests.casework import register
from tests.conftest import PG_URL, on_citus


def titles(client, query: str) -> list[str]:
    r = client.get("/api/cases", query_string={"limit": 200, "sort": "id", **dict([query.split("=", 1)])})
    assert r.status_code == 200, r.get_json()
    return [c["title"] for c in r.get_json()["items"]]


def found(app, county, username: str, **args) -> list[str]:
    """Titles ``queries.filtered`` finds for a user (the filter behind the list and the ledger)."""
    from core.authz import load_grants
    from core.cases.models import Case
    from core.cases.queries import filtered
    from core.cases.timeline import Work
    from core.models import User
    state = pingan(app)
    with state.db.transaction(county.id) as s:
        user = s.scalar(select(User).where(User.username == username))
        w = Work(s, state.plugins, state.plugins.enabled(s, county.id), load_grants(s, user.id), user)
        return [c.title for c in s.scalars(filtered(w, args).order_by(Case.id))]


def test_tokens_are_characters_bigrams_and_ascii_runs_stored_without_padding():
    """issue 3: "纠纷" is a bigram of "土地纠纷调解"; letters and digits stay whole, NFKC + lower case."""
    stored = search.grams("土地纠纷", "ＡＢＣ 302室")
    assert stored == " ".join(sorted({"土", "地", "纠", "纷", "土地", "地纠", "纠纷", "abc", "302", "室"}))
    assert not stored.startswith(" ") and not stored.endswith(" ")
    assert search.query_tokens("纠纷调解") == ["纠纷", "纷调", "调解"]
    assert search.query_tokens("纠") == ["纠"]
    assert search.query_tokens("302室 漏水") == ["302", "室", "漏水"]
    assert search.query_tokens("！？") == []


def test_keyword_search_by_bigrams_finds_chinese_text_without_segmentation(county, login):
    """issue 3: "纠纷" finds "土地纠纷调解"; one character works; an absent bigram finds nothing."""
    town = login(county, "donghu.admin")
    v1 = county.unit("T01D1V1")
    register(town, v1, title="土地纠纷调解", content="两户因宅基地边界发生争执")
    register(town, v1, title="邻里噪音投诉", content="楼上夜间装修")
    register(town, v1, title="302室漏水ABC", content="楼上302室卫生间漏水")
    assert titles(town, "q=纠纷") == ["土地纠纷调解"]
    assert titles(town, "q=纠纷调解") == ["土地纠纷调解"]
    assert titles(town, "q=噪") == ["邻里噪音投诉"]              # a single character
    assert titles(town, "q=宅基地") == ["土地纠纷调解"]          # the content counts too
    assert titles(town, "q=地调") == []                          # both characters occur, never side by side
    assert titles(town, "q=调解纠纷") == []                      # every bigram must occur
    assert titles(town, "q=楼上") == ["邻里噪音投诉", "302室漏水ABC"]


def test_mixed_ascii_and_chinese_queries(county, login):
    """issue 3: digits and letters are whole tokens next to the Chinese ones (full width folds)."""
    town = login(county, "donghu.admin")
    register(town, county.unit("T01D1V1"), title="302室漏水ABC", content="卫生间漏水")
    register(town, county.unit("T01D1V1"), title="303室漏水", content="厨房漏水")
    assert titles(town, "q=302室") == ["302室漏水ABC"]
    assert titles(town, "q=abc漏水") == ["302室漏水ABC"]
    assert titles(town, "q=ＡＢＣ") == ["302室漏水ABC"]
    assert titles(town, "q=30") == []                            # "302" is one token, not a prefix
    assert titles(town, "q=304室") == []
    assert sorted(titles(town, "q=漏水")) == ["302室漏水ABC", "303室漏水"]


def test_search_by_number_prefix(county, login):
    """issue 3: search by number: a prefix of the case number."""
    town = login(county, "donghu.admin")
    first = register(town, county.unit("T01D1V1"), title="第一件")
    register(town, county.unit("T01D1V1"), title="第二件")
    number = first["number"]                   # 访〔2026〕00001
    assert titles(town, f"number={number}") == ["第一件"]
    assert titles(town, f"number={number[:-1]}") == ["第一件", "第二件"]
    assert titles(town, f"number={number[:2]}") == ["第一件", "第二件"]
    assert titles(town, "number=信") == []
    assert titles(town, f"q={number[-5:]}") == ["第一件"]       # the number is searchable text too


def _person(admin, unit_id: int, name: str, id_number: str | None = None, phone: str | None = None) -> int:
    r = admin.post("/api/persons", json={"name": name, "org_unit_id": unit_id, "id_number": id_number,
                                         "phone": phone})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_search_by_person_name_id_number_and_phone(app, county, login):
    """issue 3: by person — the name exactly, or the ID number / phone through the blind index."""
    admin = login(county, "county.admin")
    v1, v2 = county.unit("T01D1V1"), county.unit("T01D1V2")
    rnd = random.Random(3)
    id_zhang, id_li = fake_id_number(rnd), fake_id_number(rnd)
    zhang = _person(admin, v1, "张三", id_zhang, "13800001111")
    li = _person(admin, v2, "李四", id_li, "139-0000-2222")
    register(admin, v1, title="张三的事", persons=[{"person_id": zhang, "role": "petitioner"}])
    register(admin, v2, title="李四的事", persons=[{"person_id": li, "role": "party"}])
    register(admin, v2, title="两人的事", persons=[{"person_id": zhang, "role": "party"},
                                                   {"person_id": li, "role": "party"}])

    def by(person: str) -> list[str]:
        return found(app, county, "county.admin", person=person)
    assert by("张三") == ["张三的事", "两人的事"]
    assert by(" 张三 ") == ["张三的事", "两人的事"]
    assert by("张") == []                                            # names match exactly
    assert by(id_li) == ["李四的事", "两人的事"]
    assert by(f"{id_zhang[:6]} {id_zhang[6:14]} {id_zhang[14:].lower()}") == ["张三的事", "两人的事"]
    assert by("13800001111") == ["张三的事", "两人的事"]
    assert by("139-0000-2222") == ["李四的事", "两人的事"]
    assert by("13900002222") == []                                   # phones match as entered
    wrong = id_zhang[:17] + ("0" if id_zhang[17] != "0" else "1")
    assert by(wrong) == []                                           # a wrong check digit matches nobody
    assert by(fake_id_number(random.Random(99))) == []
    assert found(app, county, "county.admin", person="张三", q="两人") == ["两人的事"]


def test_person_filter_on_the_case_list(app, county, login):
    """issue 3: ``GET /api/cases?person=…`` (once CaseListArgs carries the field)."""
    from core.api.cases import CaseListArgs
    if "person" not in CaseListArgs().fields:
        pytest.skip("core/api/cases.py: CaseListArgs has no person field yet")
    admin = login(county, "county.admin")
    id_zhang = fake_id_number(random.Random(4))
    zhang = _person(admin, county.unit("T01D1V1"), "张三", id_zhang, "13800002222")
    register(admin, county.unit("T01D1V1"), title="张三的事", persons=[{"person_id": zhang, "role": "party"}])
    register(admin, county.unit("T01D1V1"), title="别人的事")
    assert titles(admin, "person=张三") == ["张三的事"]
    assert titles(admin, f"person={id_zhang}") == ["张三的事"]
    assert titles(admin, "person=13800002222") == ["张三的事"]


def test_id_number_search_finds_only_persons_the_user_may_read(app, county, login):
    """issue 3 / PIPL: a case list must not tell whom an ID number belongs to outside one's scope.

    郭岭村's cadre reads the case (it arose in 郭岭村) and sees the names of its persons, so the
    name finds it; an ID number or phone is a PII search, refused without the PII permission
    (issue 14, finding 3: see tests/test_security_pii.py).
    """
    from core.errors import Forbidden
    admin = login(county, "county.admin")
    id_zhang = fake_id_number(random.Random(5))
    zhang = _person(admin, county.unit("T01D1V1"), "张三", id_zhang, "13800003333")
    register(admin, county.unit("T01D1V2"), title="郭岭村的事", persons=[{"person_id": zhang, "role": "party"}])
    assert found(app, county, "village.cadre2", person="张三") == ["郭岭村的事"]
    for guess in (id_zhang, "13800003333"):
        with pytest.raises(Forbidden) as refused:
            found(app, county, "village.cadre2", person=guess)
        assert refused.value.code == "pii_forbidden"
    assert found(app, county, "county.admin", person=id_zhang) == ["郭岭村的事"]


def test_search_respects_scope(county, login):
    """issue 3: a keyword finds only cases the user may read."""
    town = login(county, "donghu.admin")
    register(town, county.unit("T01D1V1"), title="罗塘村土地纠纷")
    register(town, county.unit("T01D1V2"), title="郭岭村土地纠纷")
    cadre = login(county, "village.cadre")
    assert titles(cadre, "q=纠纷") == ["罗塘村土地纠纷"]
    assert sorted(titles(town, "q=纠纷")) == ["罗塘村土地纠纷", "郭岭村土地纠纷"]


# --- PostgreSQL: the indexes are used as the app role, under RLS ---------------------------------

def _analyze(*tables: str) -> None:
    owner = create_engine(PG_URL)
    with owner.begin() as conn:  # statistics, as the owner (the app role may not ANALYZE)
        for t in tables:
            conn.execute(text(f"ANALYZE {t}"))
    owner.dispose()


def _plan(s, stmt) -> str:
    compiled = stmt.compile(dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True})
    return "\n".join(s.execute(text(f"EXPLAIN {compiled}")).scalars())


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL plans")
def test_why_search_goes_through_a_function_gin_is_not_usable_under_rls(db, county, login):
    """Under RLS only leakproof operators may use an index ahead of the policy; ``@>`` is not
    leakproof, so the app role's own ``@>`` predicate filters the county row by row. If this
    starts failing, PostgreSQL lets it through and ``case_search_ids`` is no longer needed."""
    from core.cases.models import Case
    town = login(county, "donghu.admin")
    register(town, county.unit("T01D1V1"), title="土地纠纷调解")
    _analyze("case_record")
    with db.transaction(county.id) as s:
        s.execute(text("SET LOCAL enable_seqscan = off"))
        arr = text("string_to_array(case_record.search_grams, ' ') @> ARRAY['纠纷']")
        plan = _plan(s, select(Case.id).where(arr))
        assert s.execute(text("SELECT current_user")).scalar() == "pingan_app"
    assert "ix_case_record_grams" not in plan, plan


def _bulk_cases(county, unit_id: int, n: int) -> None:
    """``n`` plain cases of the county, inserted by the owner: enough rows that a query for a
    rare token is worth an index (on a handful of rows the planner rightly reads them all)."""
    owner = create_engine(PG_URL)
    with owner.begin() as conn:
        conn.execute(text(
            "INSERT INTO case_record (tenant_id, id, case_type, number, year, title, content, org_unit_id, state, "
            "search_grams, created_at, updated_at) SELECT :t, nextval('pingan_id_seq'), 'visits.visit', 'bulk-' || g, "
            "2026, '批量', '', :u, 'registered', '批 批量 量', now(), now() FROM generate_series(1, :n) AS g"),
            {"t": county.id, "u": unit_id, "n": n})
        conn.execute(text("ANALYZE case_record"))
    owner.dispose()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL plans")
def test_keyword_search_uses_the_gin_index_as_the_app_role(app, db, county, login):
    """issue 3: search on PostgreSQL uses an index. ``case_search_ids`` (SECURITY DEFINER, owned
    by a role that bypasses RLS) scans ``ix_case_record_grams``: its plan, and the index's
    scan counter rising when the app role searches."""
    import time
    from core.authz import load_grants
    from core.cases.queries import filtered
    from core.cases.timeline import Work
    from core.models import User
    town = login(county, "donghu.admin")
    # a token rare in the whole (shared) test database: the plan follows its frequency
    case = register(town, county.unit("T01D1V1"), title="犁铧归属调解")
    register(town, county.unit("T01D1V1"), title="邻里噪音投诉")
    _bulk_cases(county, county.unit("T01D1V1"), 5000)
    owner = create_engine(PG_URL)
    with owner.begin() as conn:
        conn.execute(text("ANALYZE case_record"))  # plans follow statistics: the bulk rows must be in them
        # GIN's fast-update pending list (the bulk rows and every other test's cases, until autovacuum
        # merges it) is costed as read on every scan: merge it, as autovacuum would in service
        conn.execute(text("SELECT gin_clean_pending_list('ix_case_record_grams'::regclass)"))
        definer, bypass = conn.execute(text(
            "SELECT p.prosecdef, r.rolsuper OR r.rolbypassrls FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner "
            "WHERE p.proname = 'case_search_ids'")).one()
        assert definer and bypass
        conn.execute(text("SELECT set_config('pingan.tenant_id', :t, true)"), {"t": str(county.id)})
        # Whether the planner *prefers* the index depends on table size and statistics (a test
        # county is small); what is tested is that it *can* use it — under RLS it could not.
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        body = "\n".join(conn.execute(text(  # the function's query, its argument as a literal
            f"EXPLAIN SELECT c.id FROM case_record AS c WHERE c.tenant_id = {county.id} "
            "AND string_to_array(c.search_grams, ' ') @> ARRAY['犁铧']")).scalars())
        citus = on_citus(PG_URL)
    assert "Bitmap Index Scan on ix_case_record_grams" in body, body  # on Citus: …_grams_<shard>
    # where the index is scanned: here, or on the Citus workers (their shards' indexes)
    count = ("SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes "
             "WHERE indexrelname LIKE 'ix\\_case\\_record\\_grams%'")

    def scans() -> int:
        with owner.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            if citus:
                results = conn.execute(text("SELECT result FROM run_command_on_workers(:sql)"), {"sql": count})
                return sum(int(r) for r in results.scalars())
            return conn.execute(text(count)).scalar() or 0
    before = scans()
    state = pingan(app)
    with db.transaction(county.id) as s:
        user = s.scalar(select(User).where(User.username == "donghu.admin"))
        w = Work(s, state.plugins, state.plugins.enabled(s, county.id), load_grants(s, user.id), user)
        s.execute(text("SET LOCAL enable_seqscan = off"))  # as above: usable, whatever the planner prefers
        assert [c.id for c in s.scalars(filtered(w, {"q": "犁铧"}))] == [case["id"]]
        assert s.execute(text("SELECT current_user")).scalar() == "pingan_app"
        s.execute(text("SELECT pg_stat_force_next_flush()"))  # counted at the transaction's end
    deadline = time.monotonic() + 15
    while scans() <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    after = scans()
    owner.dispose()
    assert after > before


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL plans")
def test_number_prefix_uses_an_index_as_the_app_role(db, county, login):
    """issue 3: number prefix as a byte-wise range (leakproof) in the "C" collation → Index Cond."""
    from core.cases.models import Case
    town = login(county, "donghu.admin")
    register(town, county.unit("T01D1V1"))
    _analyze("case_record")
    with db.transaction(county.id) as s:
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = _plan(s, select(Case.id).where(search.prefix(Case.number, "访〔2026〕000", "postgresql")))
    assert "ix_case_record_number_c" in plan and "Index Cond" in plan, plan
