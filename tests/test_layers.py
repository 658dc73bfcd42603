"""issue 16 (item 7): the core's layers and the plugins' one door, as import-linter contracts.

The contracts are in pyproject.toml (``[tool.importlinter]``; docs/architecture.md, "Layers"):
the layers of ``core`` (sdk > app and CLI > API and web > domain services > foundation),
"core never imports a plugin" and "plugins import only core.sdk". Imports inside functions
count. This test runs ``lint-imports`` on them, with every installed plugin package (the
``pingan.plugins`` entry points: ``pingan_hello``, ``pingan_visits`` when installed …) added
to the two plugin contracts, and fails with import-linter's report of the broken contract.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _pyproject_options() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]


def _contract(options: dict, contract_id: str) -> dict:
    return next(c for c in options["contracts"] if c["id"] == contract_id)


def _plugin_packages() -> set[str]:
    """Top-level packages of the installed plugins (``plugins.petition`` → ``plugins``)."""
    return {ep.value.split(":")[0].split(".")[0] for ep in entry_points(group="pingan.plugins")}


def _options_with_installed_plugins(extra_plugin_packages: set[str] = frozenset()) -> dict:
    options = _pyproject_options()
    packages = _plugin_packages() | set(extra_plugin_packages)
    new = sorted(packages - set(options["root_packages"]))
    options["root_packages"] += new
    _contract(options, "core-not-plugins")["forbidden_modules"] += new
    _contract(options, "plugins-sdk-only")["source_modules"] += new
    return options


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)  # strings and lists of strings: valid TOML as JSON


def _write_config(options: dict, path: Path) -> Path:
    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {_toml(v)}" for k, v in options.items() if k != "contracts"]
    for contract in options["contracts"]:
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{k} = {_toml(v)}" for k, v in contract.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _lint(config: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**(env or os.environ), "COLUMNS": "160"}  # the report's lines unwrapped
    return subprocess.run([str(LINT_IMPORTS), str(config), "--no-cache", "--no-logo"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_layers_and_the_plugin_contracts_hold(tmp_path):
    """lint-imports keeps every contract; on a break its report (which import, along which
    chain, of which contract) is the failure message."""
    options = _options_with_installed_plugins()
    assert {"plugins", "pingan_visits"} <= set(options["root_packages"])
    result = _lint(_write_config(options, tmp_path / "importlinter.toml"))
    report = result.stdout + result.stderr
    assert result.returncode == 0, "an import breaks the core's layers (docs/architecture.md, Layers):\n" + report
    assert f"Contracts: {len(options['contracts'])} kept, 0 broken." in report, report


def test_every_core_module_but_the_sdk_is_closed_to_plugins():
    """The "plugins import only core.sdk" contract lists the core's modules one by one
    (import-linter has no "all but"): a new module of the core must be added there."""
    forbidden = set(_contract(_pyproject_options(), "plugins-sdk-only")["forbidden_modules"])
    children = {f"core.{p.stem}" for p in (ROOT / "core").glob("*.py") if p.stem != "__init__"}
    children |= {f"core.{d.name}" for d in (ROOT / "core").iterdir()
                 if d.is_dir() and d.name != "__pycache__" and any(d.rglob("*.py"))}
    assert forbidden == children - {"core.sdk"}


def test_no_import_is_exempted():
    """No contract carries an ``ignore_imports`` line: the layers hold without exceptions."""
    assert [c["id"] for c in _pyproject_options()["contracts"] if c.get("ignore_imports")] == []


def test_a_plugin_importing_the_core_past_the_sdk_breaks_the_contract(tmp_path):
    """The contracts can fail: a plugin package that imports ``core.request`` inside a
    function (not through ``core.sdk``) is reported, with the import that breaks it."""
    package = tmp_path / "pkgs" / "layers_probe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from core.sdk import current\n\n\ndef who():\n    from core.request import current as direct\n"
        "    return direct() is current()\n", encoding="utf-8")
    options = _options_with_installed_plugins({"layers_probe"})
    options["contracts"] = [_contract(options, "plugins-sdk-only")]
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "pkgs")}
    result = _lint(_write_config(options, tmp_path / "importlinter.toml"), env)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert "plugins import only core.sdk BROKEN" in report and "layers_probe -> core.request" in report, report
