"""The README's two commands recover from an interrupted first install (issue 15, item 13).

``scripts/demo.sh`` and ``scripts/test.sh`` make ``.venv`` through ``scripts/venv.sh``: a
first run interrupted while ``python3 -m venv`` installed pip left a ``.venv`` without pip,
and every later run failed with "No module named pip".
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import PG_URL, ROOT

# no database involved: once, in the SQLite pass (each test makes a virtualenv, ~10 s)
pytestmark = pytest.mark.skipif(bool(PG_URL), reason="the scripts' virtualenv does not depend on the database: "
                                                     "tested once, in the SQLite pass")


def _ensure(folder) -> subprocess.CompletedProcess:
    shutil.copytree(ROOT / "scripts", folder / "scripts", dirs_exist_ok=True)
    return subprocess.run(["bash", "-c", "source scripts/venv.sh && ensure_venv"], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def test_a_venv_left_without_pip_is_made_anew(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True)
    python = tmp_path / ".venv" / "bin" / "python"
    assert subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode != 0
    done = _ensure(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "making it anew" in done.stderr
    assert subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode == 0


def test_a_working_venv_is_left_alone(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / ".venv")], check=True)
    marker = tmp_path / ".venv" / "kept"
    marker.write_text("installed packages live here")
    done = _ensure(tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert marker.exists()
