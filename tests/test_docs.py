"""Documentation and the SDK boundary stay true to the code (issue 2).

Like Datasette's ``test_docs.py``: every hook in ``core/hookspecs.py`` has a section in
``docs/plugin_hooks.md`` showing its exact signature, and the docs name no hook that does
not exist. Like CKAN's toolkit: ``core.sdk`` is the plugins' module, a pure re-export that
the core itself never imports.
"""
from __future__ import annotations

import ast
import re

import pytest

import core.sdk
from core import hookspecs
from tests.conftest import ROOT

HOOKSPECS = ROOT / "core" / "hookspecs.py"
HOOK_DOCS = ROOT / "docs" / "plugin_hooks.md"
GUIDE = ROOT / "docs" / "plugins.md"


def spec_signatures() -> dict[str, str]:
    """Hook name → ``def name(args) -> ret`` as written in core/hookspecs.py."""
    out = {}
    for node in ast.parse(HOOKSPECS.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", None) == "hookspec"
                or getattr(d, "id", None) == "hookspec" for d in node.decorator_list):
            ret = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            out[node.name] = f"def {node.name}({ast.unparse(node.args)}){ret}"
    return out


def doc_sections(text: str) -> dict[str, str]:
    """``## pingan_x(…)`` heading → the text up to the next ``## `` heading."""
    parts = re.split(r"^## ", text, flags=re.M)
    out = {}
    for part in parts[1:]:
        m = re.match(r"(pingan_\w+)\(", part)
        if m:
            out[m.group(1)] = part
    return out


def missing_or_wrong(signatures: dict[str, str], docs: str) -> list[str]:
    sections = doc_sections(docs)
    problems = [f"{name}: no section" for name in signatures if name not in sections]
    problems += [f"{name}: signature differs (want `{sig}`)" for name, sig in signatures.items()
                 if name in sections and f"\n{sig}\n" not in sections[name]]
    problems += [f"{name}: documented but no such hook" for name in sections if name not in signatures]
    return problems


def test_spec_parser_sees_every_registered_hook():
    """The parser reads the same hooks pluggy registers (so the docs check covers them all)."""
    registered = {name for name in dir(hookspecs)
                  if name.startswith("pingan_") and hasattr(getattr(hookspecs, name), "pingan_spec")}
    assert set(spec_signatures()) == registered
    assert len(registered) == 18


def test_every_hook_is_documented_with_its_exact_signature():
    """issue 2: docs/plugin_hooks.md has one section per hook showing the spec's signature."""
    assert missing_or_wrong(spec_signatures(), HOOK_DOCS.read_text(encoding="utf-8")) == []


def test_the_docs_check_catches_a_missing_or_changed_hook():
    """issue 2: the check above can fail — a renamed argument, a new hook, a stale section."""
    docs = HOOK_DOCS.read_text(encoding="utf-8")
    sigs = spec_signatures()
    changed = dict(sigs, pingan_demo_data=sigs["pingan_demo_data"].replace("settings: dict", "config: dict"))
    assert missing_or_wrong(changed, docs) == [
        "pingan_demo_data: signature differs (want `def pingan_demo_data(session: Any, tenant: Any, config: dict) -> None`)"]
    added = dict(sigs, pingan_new_hook="def pingan_new_hook() -> list")
    assert missing_or_wrong(added, docs) == ["pingan_new_hook: no section"]
    removed = {k: v for k, v in sigs.items() if k != "pingan_indicators"}
    assert missing_or_wrong(removed, docs) == ["pingan_indicators: documented but no such hook"]


@pytest.mark.parametrize("name", sorted(spec_signatures()))
def test_each_section_says_how_results_combine(name):
    """issue 2: ``firstresult`` hooks are documented as such, list hooks are not."""
    section = doc_sections(HOOK_DOCS.read_text(encoding="utf-8"))[name]
    firstresult = bool(getattr(hookspecs, name).pingan_spec.get("firstresult"))
    assert ("firstresult=True" in section) == firstresult
    assert "**Results:**" in section and "**When:**" in section and "**Returns:**" in section
    assert f"@hookimpl\ndef {name}(" in section  # an example implementation


def _imports_of(path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_core_never_imports_the_sdk():
    """issue 2: ``core.sdk`` is for plugins only; the core depends on its own modules."""
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "core").rglob("*.py"))
                 if p.name != "sdk.py" and "core.sdk" in _imports_of(p)]
    assert offenders == []


def test_sdk_is_a_pure_re_export_with_a_complete_all():
    """issue 2: nothing is defined in core/sdk.py; every exported name resolves and is documented."""
    tree = ast.parse((ROOT / "core" / "sdk.py").read_text(encoding="utf-8"))
    kinds = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # the docstring
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        kinds.append(type(node).__name__)
    assert kinds == []
    imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert set(core.sdk.__all__) == imported and len(core.sdk.__all__) == len(set(core.sdk.__all__))
    assert all(getattr(core.sdk, n, None) is not None for n in core.sdk.__all__)
    guide = GUIDE.read_text(encoding="utf-8") + (ROOT / "docs" / "plugin_registers.md").read_text(encoding="utf-8")
    assert [n for n in core.sdk.__all__ if f"`{n}`" not in guide] == []
    required = {"hookimpl", "Permission", "RoleTemplate", "MenuItem", "Widget", "ScheduledJob", "Indicator",
                "TenantModel", "ReferenceModel", "tenant_fk", "AwareDateTime", "utcnow", "Encrypted", "current",
                "RequestContext", "requires", "authenticated", "public", "get_or_404", "scoped", "may", "require",
                "NotFound", "Forbidden", "Conflict", "Invalid", "record", "record_read", "sensitive_fields",
                "normalise_id_number", "ListArgs", "page_of", "paginate", "IdField", "id_path", "Blueprint",
                "bind_tenant"}
    assert required <= set(core.sdk.__all__)
