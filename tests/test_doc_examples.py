"""Every code example in the plugin docs runs (issue 16, item 6).

The convention, stated for authors at the top of ``docs/plugins.md``:

- The files: ``docs/plugins.md``, ``docs/plugin_hooks.md`` and every ``docs/plugin_*.md``.
- ```` ```python ```` blocks are compiled and executed, in order, in **one namespace per file**:
  a block may use what an earlier block of the same file imported or defined. A block that
  is a single ``def …`` line without a body is a hook's *signature* (plugin_hooks.md): it is
  only compiled (with ``: ...`` added).
- ``<!-- doctest: app -->`` on the line before a block runs it with a real app: the names
  ``app`` (the test app, after ``pingan db upgrade``), ``county`` (a fresh county of its own
  with the example plugin switched on: ``county.id``, ``county.unit("T01")``), ``client_as``
  (``client_as("county.admin")`` → a test client signed in to that county, CSRF header set)
  are in the namespace, the block runs inside ``app.app_context()``, and the worker's state
  is bound (as in ``pingan worker``), so job functions can be called.
- ``__file__`` is the example plugin's ``pingan_visits/__init__.py``, as if the block were in it
  (``Path(__file__).parent / "migrations"`` is the example's folder).
- The hook examples of ``plugin_hooks.md``, gathered, load as one plugin named ``visits`` (a
  ``PluginHost`` with them alone): a misspelt hook, an invented argument, an undeclared
  permission or a key outside the plugin's prefix fails.
- ``<!-- doctest: skip (why) -->`` skips a block that truly cannot run; the reason is
  required and at most ``MAX_SKIPS`` blocks in all may be skipped. A block that defines a model
  of a table the example plugin already maps (``class VisitsGreeting(TenantModel)`` with
  ``__tablename__ = "visits_greeting"``) is one: the shared metadata refuses a table twice.
- ```` ```toml ```` parses with ``tomllib``; ```` ```json ```` with ``json``.
- ```` ```sh ````, ```` ```console ````, ```` ```bash ````: every ``pingan …`` command line must name
  an existing command and only options it has (checked through click, and ``pingan <cmd>
  --help`` must succeed); other lines (``pip``, ``curl``, ``export`` …) are not checked.
- ```` ```jinja ````, ```` ```html ````: parsed by the app's Jinja environment; a template that
  ``{% extends %}`` one of the core's fills only blocks that template defines.
- Blocks without a language (layouts, trees) and ```` ```text ```` are not code.
"""
from __future__ import annotations

import json
import re
import shlex
import sys
import textwrap
import tomllib
import types
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT

DOCS = ROOT / "docs"
MAX_SKIPS = 3

# Commands the docs may name before they exist: none (every command is checked).
PENDING_COMMANDS: tuple[str, ...] = ()

PYTHON, TOML, JSON, SHELL, TEMPLATE = ("python", "py"), ("toml",), ("json",), ("sh", "console", "bash", "shell"), \
    ("jinja", "jinja2", "html", "html+jinja")
NOT_CODE = ("", "text", "txt")
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*$")
DIRECTIVE = re.compile(r"^\s*<!--\s*doctest:\s*(?P<what>app|skip)(?:\s*\((?P<why>[^)]*)\))?\s*-->\s*$")


@dataclass
class Block:
    file: str
    line: int          # 1-based line of the opening fence
    lang: str
    code: str
    directive: str | None = None   # "app", "skip"
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line} ({self.lang})"


def doc_files() -> list[Path]:
    named = [DOCS / "plugins.md", DOCS / "plugin_hooks.md"]
    return named + sorted(p for p in DOCS.glob("plugin_*.md") if p not in named)


def blocks_of(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the ``<!-- doctest: … -->`` line before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, start = m.group("indent"), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        block = Block(path.name, start + 1, m.group("lang").lower(), "\n".join(body) + "\n")
        before = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        d = DIRECTIVE.match(before)
        if d:
            block.directive, block.reason = d.group("what"), (d.group("why") or "").strip()
        out.append(block)
        i += 1
    return out


def is_signature(code: str) -> bool:
    stripped = code.strip()
    return "\n" not in stripped and stripped.startswith("def ") and not stripped.endswith(":")


# --- the checks per language ------------------------------------------------------------------

def check_python(block: Block, namespace: dict) -> None:
    if is_signature(block.code):
        compile(block.code.strip() + ": ...", str(block), "exec")
        return
    exec(compile(block.code, str(block), "exec"), namespace)  # noqa: S102 — our own docs


def cli_command(words: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """Walk ``pingan`` + words down the click groups: (command, its path, the rest)."""
    from core.cli import main
    cmd, path = main, []
    rest = list(words)
    while isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
        sub = cmd.get_command(click.Context(cmd), rest[0])
        if sub is None:
            raise LookupError(" ".join(path + [rest[0]]))
        cmd, path = sub, path + [rest.pop(0)]
    return cmd, path, rest


def pingan_lines(code: str) -> list[str]:
    """The ``pingan …`` command lines of a shell block (prompts and comments dropped)."""
    out = []
    for raw in code.splitlines():
        line = raw.strip()
        if line.startswith("$ "):
            line = line[2:]
        line = re.sub(r"\s+#.*$", "", line)
        if line.startswith("pingan "):
            out.append(line)
    return out


def check_shell(block: Block, pending: list[str]) -> None:
    runner = CliRunner()
    from core.cli import main
    for line in pingan_lines(block.code):
        words = shlex.split(line)[1:]
        try:
            cmd, path, rest = cli_command(words)
        except LookupError as exc:
            name = str(exc)
            assert name in PENDING_COMMANDS, f"{block}: `pingan {name}` is not a command (in `{line}`)"
            pending.append(name)
            continue
        assert not isinstance(cmd, click.Group) or not path or rest == [] or rest[0].startswith("-"), line
        known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for word in rest:
            if word.startswith("-") and not re.fullmatch(r"-\d.*", word):
                option = word.split("=", 1)[0]
                assert option in known, f"{block}: `pingan {' '.join(path)}` has no option {option} (in `{line}`)"
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, f"{block}: `pingan {' '.join(path)} --help` failed: {result.output}"


def template_blocks(env, name: str) -> set[str]:
    from jinja2 import nodes
    source = env.loader.get_source(env, name)[0]
    return {b.name for b in env.parse(source).find_all(nodes.Block)}


def check_template(block: Block, env) -> None:
    from jinja2 import nodes
    tree = env.parse(block.code)
    extends = next(iter(tree.find_all(nodes.Extends)), None)
    if extends is not None and isinstance(extends.template, nodes.Const):
        parent = extends.template.value
        filled = {b.name for b in tree.find_all(nodes.Block)}
        unknown = filled - template_blocks(env, parent)
        assert not unknown, f"{block}: {parent} has no block {sorted(unknown)}"


# --- the tests ----------------------------------------------------------------------------------

KNOWN = PYTHON + TOML + JSON + SHELL + TEMPLATE + NOT_CODE


def test_every_block_has_a_known_language_and_skips_are_few_and_explained():
    """A block with a language the test does not know would silently go unchecked."""
    blocks = [b for p in doc_files() for b in blocks_of(p)]
    assert [str(b) for b in blocks if b.lang not in KNOWN] == []
    skips = [b for b in blocks if b.directive == "skip"]
    assert [str(b) for b in skips if not b.reason] == [], "a skip names its reason: <!-- doctest: skip (why) -->"
    assert len(skips) <= MAX_SKIPS, [f"{b}: {b.reason}" for b in skips]
    assert [str(b) for b in blocks if b.directive == "app" and b.lang not in PYTHON] == [], "app: python only"
    assert [str(b) for b in blocks if b.directive and b.lang in NOT_CODE] == [], "a block that is not code runs nothing"


def run_file(path: Path, request) -> dict:
    """Check every block of one file; the python namespace it leaves."""
    from core.app import pingan
    import pingan_visits
    blocks = blocks_of(path)
    app = request.getfixturevalue("app")
    module = types.ModuleType(f"doctest_{path.stem}")  # a real module: SQLAlchemy and pluggy look names up there
    module.__file__ = pingan_visits.__file__
    sys.modules[module.__name__] = module
    request.addfinalizer(lambda: sys.modules.pop(module.__name__, None))
    namespace: dict = module.__dict__
    pending: list[str] = []
    fresh = [b for b in blocks if b.lang in PYTHON and b.directive is None] if path.name in OWN_PROCESS else []
    if fresh:
        run_in_own_process(path, fresh)
    for block in blocks:
        if block.directive == "skip" or block.lang in NOT_CODE or block in fresh:
            continue
        if block.lang in PYTHON:
            if block.directive == "app":
                from core.jobs import bind_state
                county = request.getfixturevalue("county")
                login = request.getfixturevalue("login")
                bind_state(pingan(app))
                namespace.update(app=app, county=county, client_as=lambda username, _c=county: login(_c, username))
                with app.app_context():
                    check_python(block, namespace)
            else:
                check_python(block, namespace)
        elif block.lang in TOML:
            tomllib.loads(block.code)
        elif block.lang in JSON:
            json.loads(block.code)
        elif block.lang in SHELL:
            check_shell(block, pending)
        elif block.lang in TEMPLATE:
            check_template(block, app.jinja_env)
    if pending:
        request.node.user_properties.append(("pending_commands", pending))
    return namespace


# Files whose examples declare models of their own (a module's tables as an author writes them):
# their python blocks run, in order, in a Python process of their own, where those tables cannot
# meet the installed example's tables or join the metadata the other tests walk.
OWN_PROCESS = {"plugin_registers.md", "plugin_migrations.md"}


def run_in_own_process(path: Path, blocks: list[Block]) -> None:
    import subprocess
    code = "\n\n".join(f"# {b}\n{b.code}" for b in blocks)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, f"{path.name}: its examples fail in a process of their own:\n{run.stderr[-3000:]}"


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_every_example_runs(path, request):
    """Each file's examples, in order, in one namespace (python), parsed (toml, json, templates),
    or checked against the CLI (pingan commands)."""
    run_file(path, request)


def test_the_hook_examples_load_as_one_plugin(request):
    """plugin_hooks.md's examples are one working plugin: every hook implemented, as specified."""
    from core import hookspecs
    from core.plugins import PluginHost
    namespace = run_file(DOCS / "plugin_hooks.md", request)
    host = PluginHost({"visits": sys.modules["doctest_plugin_hooks"]}, use_entry_points=False)
    implemented = {impl.function.__name__ for caller in host.pm.hook.__dict__.values()
                   if hasattr(caller, "get_hookimpls") for impl in caller.get_hookimpls()}
    assert implemented == {n for n in dir(hookspecs) if n.startswith("pingan_")
                           and hasattr(getattr(hookspecs, n), "pingan_spec")}
    c = host.plugins["visits"]
    # the hook's own indicator, then the one its letter kind brings (docs/letters.md)
    assert [i.key for i in c.indicators] == ["visits.greetings_sent", "visits.pledge.signed"]
    assert set(host.case_types) == {"visits.visit"} and c.settings_schema().load({}) == {
        "greeting_prefix": "您好，", "max_per_day": 100}


# --- the checker itself can fail ------------------------------------------------------------------

def test_the_checks_catch_a_wrong_example(app, tmp_path):
    """A python block naming a removed SDK name, an unknown pingan command or option, a template
    filling a block base.html does not have, and bad TOML all fail; the directive is read."""
    doc = tmp_path / "plugin_x.md"
    doc.write_text(textwrap.dedent("""\
        Text.

        <!-- doctest: skip (needs a county's SMS gateway) -->
        ```python
        gateway.send()
        ```

        ```python
        from core.sdk import subtree_ids
        ```

        ```sh
        pingan db upgrade --no-such-flag
        pingan frobnicate
        pingan db revision --plugin visits -m "x" --autogenerate
        ```

        ```jinja
        {% extends "base.html" %}{% block sidebar %}x{% endblock %}
        ```

        ```toml
        [plugins.visits
        ```
        """), encoding="utf-8")
    skip, py, sh, tpl, toml = blocks_of(doc)
    assert (skip.directive, skip.reason, skip.line) == ("skip", "needs a county's SMS gateway", 4)
    assert (py.lang, py.directive) == ("python", None)
    with pytest.raises(ImportError):
        check_python(py, {})
    with pytest.raises(AssertionError, match="no option --no-such-flag"):
        check_shell(Block("x", 1, "sh", "pingan db upgrade --no-such-flag\n"), [])
    with pytest.raises(AssertionError, match="`pingan frobnicate` is not a command"):
        check_shell(Block("x", 1, "sh", "pingan frobnicate\n"), [])
    pending: list[str] = []
    check_shell(Block("x", 1, "sh", "$ pingan db upgrade   # a comment\n"), pending)
    assert pending == []
    with pytest.raises(AssertionError, match=r"base.html has no block \['sidebar'\]"):
        check_template(tpl, app.jinja_env)
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(toml.code)
    assert is_signature("def pingan_x(session: Any) -> None\n") and not is_signature("def f():\n    pass\n")


def test_the_docs_state_the_convention():
    """The convention is told to authors where they start reading."""
    guide = (DOCS / "plugins.md").read_text(encoding="utf-8")
    head = guide.split("\n## ", 1)[0]
    assert "<!-- doctest: app -->" in head and "<!-- doctest: skip (" in head and "test_doc_examples.py" in head
