# Sourced by scripts/demo.sh and scripts/test.sh (from the repository root): `ensure_venv`
# leaves a working .venv alone and makes it anew when it is missing or was left half-made by
# an interrupted first run (a .venv without pip: "No module named pip" for good).
ensure_venv() {
  if [ -x .venv/bin/python ] && .venv/bin/python -m pip --version >/dev/null 2>&1; then
    return 0
  fi
  if [ -e .venv ]; then
    echo "scripts: .venv is incomplete (an interrupted install?); making it anew" >&2
    rm -rf .venv
  fi
  python3 -m venv .venv
}
