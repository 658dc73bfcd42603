"""The testing kit (core/testing, docs/plugin_testing.md) used from outside: pytest runs a
throw-away test module in a temporary folder with no tests/conftest.py, as a plugin's own
repository would, with nothing but the installed ``pingan.testing`` plugin and the example
plugin ``hello``. And the kit's isolation and schemathesis checks over ``hello``'s routes.
"""
from __future__ import annotations

import pytest
from sqlalchemy import make_url

from core.testing import PG_URL, assert_plugin_isolation, ensure_database, run_plugin_schemathesis
from tests.conftest import Client, load_tenant, make_token

# A plugin author's test module: the kit's county (county → township → village; county.admin,
# township.officer, village.cadre), the plugin on with its settings.
PLUGIN_TESTS = '''
import pytest
from sqlalchemy import func, select

from core.testing import load_tenant
from pingan_hello import HelloGreeting


@pytest.fixture
def pingan_plugins():
    return {"hello": {"greeting_prefix": "你好，"}}


def test_a_township_officer_greets_in_its_township_only(county, client_as, county_session):
    officer = client_as("township.officer")
    r = officer.post("/api/hello/greetings", json={"org_unit_id": county.unit("T01V1"), "recipient": "张三"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["message"] == "你好，张三！"
    r = officer.post("/api/hello/greetings", json={"org_unit_id": county.unit("T02V1"), "recipient": "李四"})
    assert r.status_code == 404, r.get_json()
    with county_session() as s:
        assert s.scalar(select(func.count(HelloGreeting.id))) == 1
    assert client_as("qingshan.officer").get("/api/hello/greetings").get_json()["items"] == []


def test_switching_the_plugin_per_county(app, county, client_as, enable_plugin, disable_plugin):
    admin = client_as("county.admin", token=True)
    assert admin.get("/api/hello/greetings").status_code == 200
    disable_plugin("hello")
    assert admin.get("/api/hello/greetings").status_code == 404
    enable_plugin("hello", {"greeting_prefix": "早上好，"})
    module = admin.get("/api/modules/hello").get_json()
    assert module["enabled"] and module["settings"]["greeting_prefix"] == "早上好，"
    second = load_tenant(app)
    assert client_as("county.admin", county=second).get("/api/hello/greetings").status_code == 404
'''

# A county written in code: make_county_folder, and pingan_county_folder overridden.
CODE_COUNTY_TESTS = '''
import pytest

from core.testing import make_county_folder


@pytest.fixture(scope="session")
def pingan_county_folder(tmp_path_factory):
    return make_county_folder(
        tmp_path_factory.mktemp("county"),
        units=[("C", None, "county", "某县"), ("T1", "C", "township", "某镇"), ("V1", "T1", "village", "某村")],
        users=[("county.admin", "C", ["county_admin"]), ("cadre", "V1", ["staff"])])


def test_a_county_from_code(county, client_as):
    assert set(county.units) == {"C", "T1", "V1"}
    me = client_as("cadre").get("/api/me").get_json()
    assert me["username"] == "cadre"
'''

# The same, with a wrong expectation: the run must fail.
FAILING_TEST = '''
def test_expects_what_is_not(county, client_as, enable_plugin):
    enable_plugin("hello")
    assert client_as("village.cadre").get("/api/hello/greetings").status_code == 403
'''


@pytest.fixture
def outside(pytester, monkeypatch):
    """Runs pytest in a subprocess in ``pytester``'s folder, as a plugin's repository would: its
    own session, database and no Redis (on PostgreSQL a database of its own beside ours)."""
    for name in ("PYTEST_XDIST_WORKER", "PINGAN_TEST_DATABASE_URL_GIVEN", "PINGAN_TEST_REDIS_URL_GIVEN",
                 "PINGAN_TEST_REDIS_URL", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    if PG_URL:
        url = make_url(PG_URL)
        inner = url.set(database=f"{url.database}_outside").render_as_string(hide_password=False)
        ensure_database(inner, PG_URL)
        monkeypatch.setenv("PINGAN_TEST_DATABASE_URL", inner)

    def run(*args):
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", *args, timeout=600)
    return run


def test_a_plugins_tests_pass_with_the_kit_alone(pytester, outside):
    pytester.makepyfile(test_hello=PLUGIN_TESTS, test_code_county=CODE_COUNTY_TESTS)
    result = outside()
    result.assert_outcomes(passed=3)


def test_a_wrong_expectation_fails(pytester, outside):
    pytester.makepyfile(test_wrong=FAILING_TEST)
    result = outside()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 200 == 403*"])


def test_the_kit_can_be_left_out(pytester, outside):
    pytester.makepyfile(test_wrong=FAILING_TEST)
    result = outside("-p", "no:pingan.testing")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'county' not found*"])


@pytest.fixture(scope="module")
def two_counties(app):
    """Two demo counties with hello on and a greeting in each, at 罗塘村 (in 东湖镇)."""
    out = []
    for _ in range(2):
        t = load_tenant(app)
        admin = Client(app, t.host, {"Authorization": f"Bearer {make_token(app, t, 'county.admin')}"})
        assert admin.put("/api/modules/hello", json={"enabled": True}).status_code == 200
        r = admin.post("/api/hello/greetings", json={"org_unit_id": t.unit("T01D1V1"), "recipient": "张三"})
        assert r.status_code == 201, r.get_json()
        out.append(t)
    return out


def test_isolation_over_the_plugins_routes(app, two_counties):
    a, b = two_counties
    # qingshan.admin (青山乡) holds hello's permissions, but 罗塘村 is not in its township
    assert assert_plugin_isolation(app, "hello", a, b, outsider="qingshan.admin") >= 4


def test_isolation_finds_a_user_who_sees_the_row(app, two_counties):
    a, b = two_counties
    with pytest.raises(AssertionError, match="GET /api/hello/greetings/<record_id>: 200"):
        assert_plugin_isolation(app, "hello", a, b, outsider="donghu.admin")  # 罗塘村 is in 东湖镇


def test_schemathesis_over_the_plugins_operations(app, county):
    run = run_plugin_schemathesis(app, "hello", county, max_examples=10)
    assert run.operations >= 4  # list, create, show, close (and the export)
    assert run.probes["api positive"] and run.probes["api negative"] and run.probes["api edges"]


def test_the_examples_of_docs_plugin_testing_md_pass(pytester, outside):
    """Every Python example of docs/plugin_testing.md, run as a plugin's repository would run
    it: the first (the ``pingan_plugins`` override) as conftest.py, each other its own module;
    an example that only overrides ``pingan_county_folder`` gets a test that signs in."""
    import re
    import shutil

    from core.testing import BUILTIN_COUNTY
    from tests.conftest import ROOT
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "plugin_testing.md").read_text(encoding="utf-8"),
                        re.S)
    assert "def pingan_plugins" in blocks[0] and len(blocks) >= 7
    files, tests = {"conftest": blocks[0]}, 0
    for i, block in enumerate(blocks[1:], 1):
        if "def test_" not in block:
            assert "def pingan_county_folder" in block, block
            block += ('\n\ndef test_the_folder_loads(county, client_as):\n'
                      '    assert client_as("county.admin").get("/api/me").status_code == 200\n')
        tests += block.count("\ndef test_") + block.startswith("def test_")
        files[f"test_doc_{i}"] = block
    pytester.makepyfile(**files)
    shutil.copytree(BUILTIN_COUNTY, pytester.path / "county")
    outside().assert_outcomes(passed=tests)
