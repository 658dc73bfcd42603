"""Figure 3: cold start of `pingan demo --no-serve` and the resident memory of one web worker.

    .venv/bin/python bench/startup.py [--runs 7] [--requests 1000]

1. Cold start: `pingan demo --no-serve` in a fresh, empty instance directory (first run:
   creates the SQLite database with the migrations and loads the demo county, hashing the demo
   passwords with argon2), then again in the same directory (already loaded). Wall-clock time of
   the whole process (interpreter start to exit) and the "ready in" figure the command prints
   (measured inside the command, so without interpreter start-up and the CLI import).
   For scale: `python -c "import core.app"` alone.
2. Memory: `pingan demo` (SQLite, in-process worker) on a loopback port; VmRSS after start-up,
   then after signing in by the web form and making requests (API lists of 200, ancestors,
   /api/me, the HTML login page), plus VmHWM (peak). If the PostgreSQL benchmark database exists
   (`bench/orgtree.py generate`), also `pingan serve` on it, signed in with a personal access
   token, after as many first-page requests on the largest tenant.
"""
from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, STATS_HEADER, machine, now_utc, sa_url, summarize  # noqa: E402

PINGAN = str(ROOT / ".venv" / "bin" / "pingan")
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def clean_env(instance: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env["PINGAN_INSTANCE_DIR"] = str(instance)
    env.update(extra)
    return env


def timed(cmd: list[str], env: dict) -> tuple[int, float | None, str]:
    t0 = time.perf_counter_ns()
    p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter_ns() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {p.stderr[-2000:]}")
    m = re.search(r"ready in ([0-9.]+)s", p.stdout)
    return wall, (float(m.group(1)) if m else None), p.stdout


def cold_start(runs: int) -> dict:
    first, second, ready1, ready2, imp = [], [], [], [], []
    loaded = ""
    # one throw-away run so both series see warm OS file caches (.pyc, site-packages)
    tmp = Path(tempfile.mkdtemp(prefix="pingan-start-"))
    timed([PINGAN, "demo", "--no-serve"], clean_env(tmp))
    shutil.rmtree(tmp)
    for _ in range(runs):
        tmp = Path(tempfile.mkdtemp(prefix="pingan-start-"))
        try:
            w, r, out = timed([PINGAN, "demo", "--no-serve"], clean_env(tmp))
            first.append(w), ready1.append(r)
            loaded = next((ln for ln in out.splitlines() if ln.startswith("loaded")), loaded)
            w, r, _ = timed([PINGAN, "demo", "--no-serve"], clean_env(tmp))
            second.append(w), ready2.append(r)
            w, _, _ = timed([PYTHON, "-c", "import core.app"], clean_env(tmp))
            imp.append(w)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"first": summarize(first), "second": summarize(second), "import": summarize(imp),
            "ready1": sorted(ready1), "ready2": sorted(ready2), "loaded": loaded}


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM", "Threads", "RssAnon", "RssFile"):
            out[k] = v.strip()
    return out


def wait_up(port: int, proc: subprocess.Popen) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 120:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            return time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not come up")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_memory(requests: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="pingan-rss-"))
    port = free_port()
    proc = subprocess.Popen([PINGAN, "demo", "--port", str(port)], env=clean_env(tmp), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = wait_up(port, proc)
        time.sleep(1)
        idle = proc_status(proc.pid)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        page = opener.open(base + "/login").read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        opener.open(base + "/login", urllib.parse.urlencode(
            {"csrf_token": csrf, "username": "county.admin", "password": "pingan-demo-2026"}).encode()).read()
        import json
        units = json.loads(opener.open(base + "/api/org-units?limit=200").read())["items"]
        deep = max(units, key=lambda u: u["depth"])
        urls = ["/api/org-units?limit=200", f"/api/org-units/{deep['id']}/ancestors", "/api/me", "/login",
                f"/api/org-units?under={units[1]['id']}&limit=200"]
        t0 = time.perf_counter()
        for i in range(requests):
            opener.open(base + urls[i % len(urls)]).read()
        took = time.perf_counter() - t0
        after = proc_status(proc.pid)
        return {"up_s": up, "idle": idle, "after": after, "requests": requests, "took": took, "urls": urls}
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def serve_memory(requests: int) -> dict | None:
    try:
        from orgtree import bench_token, load_meta, scenarios
        meta = load_meta()
    except SystemExit:
        return None
    sc = scenarios(meta)[2]
    tmp = Path(tempfile.mkdtemp(prefix="pingan-rss-"))
    port = free_port()
    proc = subprocess.Popen([PINGAN, "serve", "--port", str(port)],
                            env=clean_env(tmp, PINGAN_DATABASE_URL=sa_url()), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = wait_up(port, proc)
        time.sleep(1)
        idle = proc_status(proc.pid)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {bench_token(meta['seed'], sc.tenant_id)}", "Host": sc.host}
        urls = [f"/api/org-units?under={sc.township_id}&limit=200", f"/api/org-units/{sc.deep_id}/ancestors"]
        t0 = time.perf_counter()
        for i in range(requests):
            conn.request("GET", urls[i % 2], headers=headers)
            r = conn.getresponse()
            r.read()
            assert r.status == 200, r.status
        took = time.perf_counter() - t0
        return {"up_s": up, "idle": idle, "after": proc_status(proc.pid), "requests": requests, "took": took,
                "urls": urls, "tenant": sc.tenant_id}
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def mib(v: str | None) -> str:
    return f"{int(v.split()[0]) / 1024:.1f} MiB" if v else "?"


def report(cs: dict, dm: dict, sm: dict | None, runs: int) -> str:
    L = ["# Cold start and memory of one web worker (figure 3)\n", f"- date: {now_utc()}", f"- machine: {machine()}",
         f"- `pingan demo --no-serve`, embedded defaults (SQLite file in a fresh `PINGAN_INSTANCE_DIR`, no Redis, "
         f"no other PINGAN_* variables); {runs} runs each, after one discarded run (warm OS file cache); "
         f"first run output: “{cs['loaded']}”", "",
         "## Cold start (wall clock of the whole process)\n", f"series | {STATS_HEADER}", "---|---|---|---|---|---|---",
         f"first run: create the SQLite DB + migrations + load the demo county | {cs['first'].row()}",
         f"second run: already loaded | {cs['second'].row()}",
         f"for scale: `python -c 'import core.app'` | {cs['import'].row()}", "",
         f"“ready in” printed by the command (inside the process, excludes interpreter start and CLI import): "
         f"first runs {', '.join(f'{x:.2f}' for x in cs['ready1'])} s; second runs "
         f"{', '.join(f'{x:.2f}' for x in cs['ready2'])} s.", "",
         "## Resident memory of one web worker\n",
         "server | after start-up (idle) | after requests | peak (VmHWM) | threads | requests",
         "---|---|---|---|---|---"]
    for name, m in (("`pingan demo` (SQLite, in-process worker), cookie sign-in", dm),
                    ("`pingan serve` on PostgreSQL `pingan_bench`, token", sm)):
        if m:
            L.append(f"{name} | {mib(m['idle']['VmRSS'])} | {mib(m['after']['VmRSS'])} "
                     f"(anon {mib(m['after'].get('RssAnon'))}) | {mib(m['after']['VmHWM'])} | {m['after']['Threads']} | {m['requests']} in {m['took']:.1f} s: "
                     + ", ".join(f"`{u}`" for u in m["urls"]))
    L.append("")
    L.append(f"Time from process start to /healthz answering: demo {dm['up_s']:.2f} s"
             + (f", serve {sm['up_s']:.2f} s" if sm else "") + ".\n")
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--requests", type=int, default=1000)
    a = ap.parse_args()
    cs = cold_start(a.runs)
    print(cs)
    dm = demo_memory(a.requests)
    print(dm)
    sm = serve_memory(a.requests)
    print(sm)
    from orgtree import save
    print(f"wrote {save(report(cs, dm, sm, a.runs), 'startup')}")


if __name__ == "__main__":
    main()
