"""``pingan db revision`` and ``pingan db check`` (issue 16, item 2): a plugin's migrations
generated from its models on its own branch, and a check that the two agree.

A throw-away plugin is written into ``tmp_path`` as a package with an installed-distribution
record (``*.dist-info/entry_points.txt``), so the real command finds it through the
``pingan.plugins`` entry point. The command runs in a subprocess: the plugin's model must not
join this test session's shared metadata (other tests walk every table of it).
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import main as cli
from core.migrate import plugin_drift

INIT = '''
from pathlib import Path
from core.sdk import hookimpl
from . import models  # noqa: F401


@hookimpl
def pingan_plugin_info():
    return {"title": "试验"}


@hookimpl
def pingan_migrations_dir():
    return str(Path(__file__).parent / "migrations")
'''

MODEL = '''
from datetime import datetime
from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column
from core.sdk import AwareDateTime, TenantModel, tenant_fk, utcnow


class Thing(TenantModel):
    __tablename__ = "scratchmod_thing"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_scratchmod_thing_unit", {index}))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    label: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
'''

NOTE = "    note: Mapped[str | None] = mapped_column(String(200))\n"


def _plugin(root: Path, index: str = '"tenant_id", "org_unit_id"') -> Path:
    pkg = root / "scratchmod"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(INIT, encoding="utf-8")
    (pkg / "models.py").write_text(MODEL.format(index=index), encoding="utf-8")
    dist = root / "scratchmod-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: scratchmod\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[pingan.plugins]\nscratchmod = scratchmod\n", encoding="utf-8")
    return pkg


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def _pingan(root: Path, *args: str) -> subprocess.CompletedProcess:
    return _run(root, "-m", "core.cli", *args)


def _module_vars(path: Path) -> dict:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) and node.targets[0].id in
            ("revision", "down_revision", "branch_labels", "depends_on")}


@pytest.mark.parametrize("plugin", ["petition", "mediation", "visits"])
def test_the_installed_plugins_models_and_migrations_agree(plugin):
    assert plugin_drift(plugin) == []


def test_revision_autogenerates_the_plugins_branch_and_check_finds_a_new_column(tmp_path):
    from core.migrate import heads
    from core.plugins import PluginHost
    core_head = heads(PluginHost())["core"][0]
    pkg = _plugin(tmp_path)
    migrations = pkg / "migrations"

    before = _pingan(tmp_path, "db", "check", "--plugin", "scratchmod")
    assert before.returncode == 1
    assert "scratchmod_thing: table in the models but not in the migrations" in before.stderr

    first = _pingan(tmp_path, "db", "revision", "--plugin", "scratchmod", "-m", "Things 登记", "--autogenerate")
    assert first.returncode == 0, first.stderr
    assert [p.name for p in migrations.glob("*.py")] == ["scratchmod_0001_things.py"]
    path = migrations / "scratchmod_0001_things.py"
    assert _module_vars(path) == {"revision": "scratchmod_0001", "down_revision": None,
                                  "branch_labels": ("scratchmod",), "depends_on": core_head}
    code = path.read_text(encoding="utf-8")
    # the naming convention, tenant_id leading the keys, our types written as what they store
    assert "sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_scratchmod_thing'))" in code
    assert ("sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], "
            "name=op.f('fk_scratchmod_thing_tenant_id_org_unit_id_org_unit'))") in code
    assert "sa.Column('created_at', sa.DateTime(timezone=True), nullable=False)" in code
    assert "core." not in code
    assert "create_table('app_user'" not in code and "petition_" not in code  # nobody else's tables

    assert _pingan(tmp_path, "db", "check", "--plugin", "scratchmod").returncode == 0
    again = _pingan(tmp_path, "db", "revision", "--plugin", "scratchmod", "-m", "again", "--autogenerate")
    assert again.returncode == 0 and "no changes" in again.stdout
    assert len(list(migrations.glob("*.py"))) == 1

    models = pkg / "models.py"
    models.write_text(models.read_text(encoding="utf-8") + NOTE, encoding="utf-8")
    drift = _run(tmp_path, "-c", "from core.migrate import plugin_drift; print(plugin_drift('scratchmod'))")
    assert drift.stdout.strip() == "['scratchmod_thing.note: column in the models but not in the migrations']"
    check = _pingan(tmp_path, "db", "check", "--plugin", "scratchmod")
    assert check.returncode == 1 and "scratchmod_thing.note: column in the models" in check.stderr

    second = _pingan(tmp_path, "db", "revision", "--plugin", "scratchmod", "-m", "note", "--autogenerate")
    assert second.returncode == 0, second.stderr
    path2 = migrations / "scratchmod_0002_note.py"
    assert _module_vars(path2) == {"revision": "scratchmod_0002", "down_revision": "scratchmod_0001",
                                   "branch_labels": None, "depends_on": None}
    assert "batch_op.add_column(sa.Column('note', sa.String(length=200), nullable=True))" in path2.read_text()
    assert _pingan(tmp_path, "db", "check").returncode == 0  # every installed plugin, this one included

    models.write_text("", encoding="utf-8")  # the model removed: its table is still the plugin's
    gone = _pingan(tmp_path, "db", "check", "--plugin", "scratchmod")
    assert gone.returncode == 1 and "scratchmod_thing: table in the migrations but in no model" in gone.stderr
    third = _pingan(tmp_path, "db", "revision", "--plugin", "scratchmod", "-m", "no things", "--autogenerate")
    assert third.returncode == 0, third.stderr
    code3 = (migrations / "scratchmod_0003_no_things.py").read_text(encoding="utf-8")
    assert "op.drop_table('scratchmod_thing')" in code3 and "drop_table('org_unit')" not in code3


def test_a_key_without_tenant_id_first_is_refused_naming_the_table(tmp_path):
    pkg = _plugin(tmp_path, index='"org_unit_id", "tenant_id"')
    r = _pingan(tmp_path, "db", "revision", "--plugin", "scratchmod", "-m", "things", "--autogenerate")
    assert r.returncode == 1
    assert ("scratchmod_thing: index ix_scratchmod_thing_unit (org_unit_id, tenant_id) must start with tenant_id"
            in r.stderr)
    assert not (pkg / "migrations").exists() or not list((pkg / "migrations").glob("*.py"))


def test_an_empty_revision_without_autogenerate(tmp_path):
    pkg = _plugin(tmp_path)
    r = _pingan(tmp_path, "db", "revision", "--plugin", "scratchmod", "-m", "by hand")
    assert r.returncode == 0, r.stderr
    code = (pkg / "migrations" / "scratchmod_0001_by_hand.py").read_text(encoding="utf-8")
    assert "def upgrade() -> None:\n    pass" in code and "branch_labels = ('scratchmod',)" in code


def test_revision_refuses_the_core_and_unknown_plugins():
    core = CliRunner().invoke(cli, ["db", "revision", "--plugin", "core", "-m", "x", "--autogenerate"])
    assert core.exit_code == 1 and "written by hand in core/migrations/versions" in core.output
    unknown = CliRunner().invoke(cli, ["db", "check", "--plugin", "nosuch"])
    assert unknown.exit_code == 1 and "no installed plugin 'nosuch'" in unknown.output


def test_differences_and_key_problems_are_named_in_words():
    """On a metadata of its own (nothing joins the shared one)."""
    from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, Index, MetaData, String, Table

    from core.db import NAMING
    from core.migrate import describe, tenant_key_problems
    md = MetaData(naming_convention=NAMING)
    unit = Table("org_unit", md, Column("tenant_id", BigInteger, primary_key=True),
                 Column("id", BigInteger, primary_key=True), info={"pingan_class": "tenant"})
    bad = Table("x_thing", md, Column("id", BigInteger, primary_key=True), Column("tenant_id", BigInteger),
                Column("unit_id", BigInteger), Column("label", String(20)),
                ForeignKeyConstraint(["unit_id", "tenant_id"], ["org_unit.id", "org_unit.tenant_id"]),
                Index("ix_x_thing_label", "label"), info={"pingan_class": "tenant"})
    assert tenant_key_problems(unit) == []
    assert tenant_key_problems(bad) == [
        "x_thing: primary key (id) must start with tenant_id",
        "x_thing: index ix_x_thing_label (label) must start with tenant_id",
        "x_thing: foreign key (unit_id, tenant_id) → org_unit must start with tenant_id (write it with "
        "core.sdk.tenant_fk)"]
    fk = next(iter(bad.foreign_key_constraints))
    assert describe(("add_index", next(iter(bad.indexes)))) == \
        "x_thing: index ix_x_thing_label (label) in the models but not in the migrations"
    assert describe(("remove_fk", fk)) == ("x_thing: foreign key fk_x_thing_unit_id_tenant_id_org_unit "
                                           "(unit_id, tenant_id) → org_unit in the migrations but in no model")
    assert describe([("modify_nullable", None, "x_thing", "label", {}, True, False)]) == \
        "x_thing.label: nullable is True in the migrations, False in the model"
