#!/usr/bin/env python3
"""Start-up time and memory: Python Glance 33 (under gunicorn) vs Glimpse.

One run, side by side. For each implementation, R cold starts: spawn the
server, time until the first ``GET /versions`` answers 200, wait until it is
idle, read RSS (/proc/<pid>/status VmRSS) and PSS (/proc/<pid>/smaps_rollup)
of the master and every worker, then stop it. Prints a table with the ratios
Glance/Glimpse and the reference figures from the spec.

Python 3.11 standard library only. Glance itself is installed from PyPI into
a cached venv (.cache/bench-venv). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".cache" / "bench-venv"
GLANCE_REQ = "glance==33.0.0"
GLANCE_VERSION = "33.0.0"

# Reference figures for Glance from the spec.
REF_GLANCE_STARTUP = "~2.7-6 s"
REF_GLANCE_RSS = "~110-125 MB"

POLL_INTERVAL = 0.010
HZ = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A failure with a message meant for the user."""


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    out = text.splitlines()[-lines:]
    return "\n".join("    " + ln for ln in out) if out else "    (log is empty)"


def run_checked(cmd: list[str], what: str, logfile: Path, **kw) -> None:
    with open(logfile, "ab") as out:
        rc = subprocess.call(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **kw)
    if rc != 0:
        raise BenchError(f"{what} failed (exit {rc}): {' '.join(cmd)}\n  last lines of {logfile}:\n{tail(logfile)}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# /proc helpers


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is [0])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def start_time(pid: int) -> int | None:
    f = proc_stat(pid)
    return int(f[19]) if f and len(f) > 19 else None  # field 22 of stat


def alive(pid: int) -> bool:
    f = proc_stat(pid)
    return f is not None and f[0] != "Z"


def children(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        f = proc_stat(int(name))
        if f and len(f) > 1 and f[0] != "Z" and int(f[1]) == pid:
            out.append(int(name))
    return sorted(out)


def descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, depth) of every live descendant, depth 1 = direct child."""
    out, frontier, depth = [], [pid], 0
    while frontier:
        depth += 1
        nxt = []
        for p in frontier:
            for c in children(p):
                out.append((c, depth))
                nxt.append(c)
        frontier = nxt
    return out


def cpu_ticks(pid: int) -> int:
    f = proc_stat(pid)
    return int(f[11]) + int(f[12]) if f and len(f) > 12 else 0  # utime + stime


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def mem_kb(pid: int) -> dict[str, int]:
    """VmRSS from status; Pss and USS (Private_*) from smaps_rollup, in kB."""
    out = {"rss_kb": 0, "pss_kb": 0, "uss_kb": 0}
    try:
        for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
            if ln.startswith("VmRSS:"):
                out["rss_kb"] = int(ln.split()[1])
    except OSError:
        pass
    try:
        for ln in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = ln.split()
            if len(parts) >= 2 and parts[0] == "Pss:":
                out["pss_kb"] = int(parts[1])
            elif len(parts) >= 2 and parts[0] in ("Private_Clean:", "Private_Dirty:"):
                out["uss_kb"] += int(parts[1])
    except OSError:
        pass
    return out


# --------------------------------------------------------------------------
# One server process tree that we started.


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    logfile: Path
    spawned_at: float
    # Every process we saw in this tree: pid -> start time (guards PID reuse).
    seen: dict[int, int | None] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def remember_tree(self) -> list[tuple[int, int]]:
        tree = descendants(self.pid)
        for p, _ in tree:
            if p not in self.seen:
                self.seen[p] = start_time(p)
        return tree

    def stop(self, grace: float) -> float | None:
        """SIGTERM the master, wait; SIGKILL leftovers we started. Returns seconds to exit."""
        self.remember_tree()
        t0 = time.monotonic()
        took = None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
                took = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                log(f"{self.name}: master {self.pid} still running {grace:.0f}s after SIGTERM; SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        # Workers may outlive the master for a moment; give them a little time.
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(self._ours(p) for p in self.seen):
            time.sleep(0.05)
        for p in self.seen:
            if self._ours(p):
                log(f"{self.name}: leftover process {p} ({cmdline(p)[:60]}); SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
        return took

    def _ours(self, pid: int) -> bool:
        st = start_time(pid)
        return st is not None and st == self.seen.get(pid) and alive(pid)


def get_status(port: int, path: str, timeout: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def wait_ready(srv: Server, timeout: float) -> float:
    """Seconds from spawn to the first GET /versions answering 200."""
    deadline = srv.spawned_at + timeout
    last_err = "no answer"
    while True:
        now = time.monotonic()
        if now >= deadline:
            raise BenchError(
                f"{srv.name} did not answer GET /versions with 200 within {timeout:.0f}s "
                f"(last: {last_err})\n  last lines of its log ({srv.logfile.name}; --keep-tmp keeps it):\n{tail(srv.logfile)}"
            )
        rc = srv.proc.poll()
        if rc is not None:
            raise BenchError(
                f"{srv.name} exited with code {rc} before answering\n"
                f"  last lines of its log ({srv.logfile.name}; --keep-tmp keeps it):\n{tail(srv.logfile)}"
            )
        try:
            # A server whose socket is bound but whose workers are still
            # loading queues the request; let it wait (bounded) so the first
            # answer is timed precisely.
            status = get_status(srv.port, "/versions", timeout=min(2.0, max(0.05, deadline - now)))
            if status == 200:
                return time.monotonic() - srv.spawned_at
            last_err = f"HTTP {status}"
        except (OSError, http.client.HTTPException) as e:
            last_err = f"{type(e).__name__}: {e}"
        time.sleep(POLL_INTERVAL)


def wait_idle(srv: Server, want_workers: int, ready_at: float, timeout: float) -> tuple[float, list[tuple[int, int]]]:
    """Wait until every worker is up and the tree is idle (no CPU, RSS steady).

    Returns (seconds from spawn until the tree last used CPU or grew, to
    within 250 ms: roughly when the slowest worker finished loading; the
    process tree).
    """
    deadline = time.monotonic() + timeout
    prev = None
    steady = 0
    quiet_since = time.monotonic()
    warned = False
    tree: list[tuple[int, int]] = []
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            raise BenchError(
                f"{srv.name} exited with code {srv.proc.returncode} after answering\n"
                f"  last lines of its log ({srv.logfile.name}; --keep-tmp keeps it):\n{tail(srv.logfile)}"
            )
        tree = srv.remember_tree()
        pids = [srv.pid] + [p for p, _ in tree]
        direct = sum(1 for _, d in tree if d == 1)
        ticks = sum(cpu_ticks(p) for p in pids)
        rss = sum(mem_kb(p)["rss_kb"] for p in pids)
        sample = (tuple(pids), ticks, rss)
        # A server that runs fewer workers than configured is measured as it
        # is once it has had 5 s to fork the rest.
        enough = direct >= want_workers or time.monotonic() - srv.spawned_at > ready_at + 5.0
        if enough and not warned and direct < want_workers:
            log(f"{srv.name}: only {direct} worker(s) found, {want_workers} configured; measuring what runs")
            warned = True
        if prev is not None and enough and sample[0] == prev[0]:
            # Idle: at most one clock tick of CPU and < 256 kB RSS change per 250 ms.
            if sample[1] - prev[1] <= 1 and abs(sample[2] - prev[2]) < 256:
                if steady == 0:
                    quiet_since = prev[3]
                steady += 1
            else:
                steady = 0
        else:
            steady = 0
        prev = sample + (time.monotonic(),)
        if steady >= 4:  # one second of quiet
            return quiet_since - srv.spawned_at, tree
        time.sleep(0.25)
    log(f"{srv.name}: not idle after {timeout:.0f}s; measuring anyway")
    return time.monotonic() - srv.spawned_at, tree


def measure(srv: Server, tree: list[tuple[int, int]]) -> list[dict]:
    procs = []
    for pid, depth in [(srv.pid, 0)] + tree:
        m = mem_kb(pid)
        role = "master" if depth == 0 else ("worker" if depth == 1 else f"child(depth {depth})")
        procs.append({"pid": pid, "role": role, "cmd": cmdline(pid)[:120], **m})
    return procs


# --------------------------------------------------------------------------
# Glance 33 under gunicorn


def venv_python() -> Path:
    return VENV / "bin" / "python"


def venv_ok() -> bool:
    py = venv_python()
    if not py.exists():
        return False
    check = (
        "import importlib.metadata as m, glance, gunicorn, glance.wsgi;"
        f"assert m.version('glance') == '{GLANCE_VERSION}', m.version('glance')"
    )
    return subprocess.call([str(py), "-c", check], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def ensure_venv(scratch: Path) -> None:
    if venv_ok():
        log(f"reusing {VENV}")
        return
    log(f"creating {VENV} with {GLANCE_REQ} and gunicorn (one-off, about a minute)")
    VENV.parent.mkdir(parents=True, exist_ok=True)
    logfile = VENV.parent / "bench-venv-install.log"
    logfile.unlink(missing_ok=True)
    run_checked([sys.executable, "-m", "venv", "--clear", str(VENV)], "python -m venv", logfile)
    pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check"]
    run_checked(pip + ["install", "--quiet", "--upgrade", "pip"], "pip upgrade", logfile)
    run_checked(pip + ["install", "--quiet", GLANCE_REQ, "gunicorn"], f"pip install {GLANCE_REQ} gunicorn", logfile)
    if not venv_ok():
        raise BenchError(f"{VENV} was installed but 'import glance' still fails; see {logfile}")


def venv_info() -> dict:
    code = (
        "import importlib.metadata as m, json, sys;"
        "fs=[f for f in m.files('glance') if str(f).replace('\\\\','/').endswith('etc/glance/glance-api-paste.ini')];"
        "print(json.dumps({'glance': m.version('glance'), 'gunicorn': m.version('gunicorn'),"
        "'python': sys.version.split()[0], 'prefix': sys.prefix,"
        "'paste': str(fs[0].locate().resolve()) if fs else None}))"
    )
    out = subprocess.check_output([str(venv_python()), "-c", code], text=True)
    info = json.loads(out)
    paste = Path(info["paste"]) if info["paste"] else None
    if paste is None or not paste.is_file():
        paste = Path(info["prefix"]) / "etc" / "glance" / "glance-api-paste.ini"
    if not paste.is_file():
        raise BenchError(f"stock glance-api-paste.ini not found in {VENV} (looked at {paste})")
    info["paste"] = str(paste)
    help_text = subprocess.run(
        [str(VENV / "bin" / "gunicorn"), "--help"], capture_output=True, text=True
    ).stdout
    info["no_control_socket"] = "--no-control-socket" in help_text
    return info


def write_conf(d: Path, port: int, workers: int, minimal: bool = False, connection: str | None = None) -> Path:
    """The same glance-api.conf for both sides (gunicorn ignores bind_*/workers).

    `connection` is the [database] URL; the default is <d>/glance.sqlite."""
    (d / "images").mkdir(exist_ok=True)
    (d / "staging").mkdir(exist_ok=True)
    text = (
        "[DEFAULT]\n"
        "bind_host = 127.0.0.1\n"
        f"bind_port = {port}\n"
        f"workers = {workers}\n"
    )
    if not minimal:
        text += (
            f"node_staging_uri = file://{d}/staging\n"
            "\n[database]\n"
            f"connection = {connection or f'sqlite:///{d}/glance.sqlite'}\n"
            "\n[glance_store]\n"
            "stores = file\n"
            "default_store = file\n"
            f"filesystem_store_datadir = {d}/images\n"
            "\n[oslo_policy]\n"
            "enforce_new_defaults = false\n"
        )
    conf = d / "glance-api.conf"
    conf.write_text(text)
    return conf


class GlanceSide:
    name = "glance"

    def __init__(self, scratch: Path, workers: int, info: dict, preload: bool, connection: str | None = None):
        self.dir = scratch / "glance"
        self.dir.mkdir()
        self.workers = workers
        self.info = info
        self.preload = preload
        self.connection = connection
        shutil.copy(info["paste"], self.dir / "glance-api-paste.ini")
        conf = write_conf(self.dir, 0, workers, connection=connection)
        log("glance: glance-manage db_sync")
        run_checked(
            [str(VENV / "bin" / "glance-manage"), "--config-file", str(conf), "db_sync"],
            "glance-manage db_sync",
            self.dir / "db_sync.log",
            cwd=self.dir,
        )

    def start(self, run: int) -> Server:
        port = free_port()
        write_conf(self.dir, port, self.workers, connection=self.connection)
        cmd = [str(VENV / "bin" / "gunicorn"), "--workers", str(self.workers), "--bind", f"127.0.0.1:{port}", "--timeout", "120"]
        if self.info["no_control_socket"]:
            cmd.append("--no-control-socket")
        if self.preload:
            cmd.append("--preload")
        cmd.append("glance.wsgi.api:application")
        env = dict(os.environ, OS_GLANCE_CONFIG_DIR=str(self.dir), HOME=str(self.dir))
        env.pop("PYTHONPATH", None)
        return spawn(self.name, cmd, env, self.dir, port, run)


# --------------------------------------------------------------------------
# Glimpse


class GlimpseSide:
    name = "glimpse"

    def __init__(self, scratch: Path, workers: int, binary: Path, paste: Path, db_from: Path | None, minimal: bool,
                 connection: str | None = None):
        self.dir = scratch / "glimpse"
        self.dir.mkdir()
        self.workers = workers
        self.binary = binary
        self.minimal = minimal
        self.connection = connection
        shutil.copy(paste, self.dir / "glance-api-paste.ini")
        if db_from is not None and db_from.exists():
            shutil.copy(db_from, self.dir / "glance.sqlite")

    def db_sync(self) -> None:
        """Glimpse's own schema tool on an empty database: glimpse manage db sync."""
        conf = write_conf(self.dir, 0, self.workers, connection=self.connection)
        log("glimpse: glimpse manage db sync")
        run_checked(
            [str(self.binary), "manage", "--config-file", str(conf), "db", "sync"],
            "glimpse manage db sync",
            self.dir / "db_sync.log",
            cwd=self.dir,
        )

    def start(self, run: int) -> Server:
        port = free_port()
        conf = write_conf(self.dir, port, self.workers, self.minimal, connection=self.connection)
        cmd = [str(self.binary), "api", "--config-file", str(conf)]
        env = dict(os.environ, HOME=str(self.dir))
        return spawn(self.name, cmd, env, self.dir, port, run)


class Outcome:
    """What [`bench_session`] decided: the exit code."""

    def __init__(self) -> None:
        self.rc = 0


def exit_on_signals() -> None:
    """SIGTERM and SIGHUP become SystemExit, so the `finally` blocks (and
    bench_session) stop the servers and clean up."""
    def _raise(signum, _frame):
        raise SystemExit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _raise)


@contextlib.contextmanager
def bench_session(results: dict, live: list, args, scratch: Path):
    """The end of every benchmark run: a BenchError becomes exit 1 and
    Ctrl-C exit 130 (both recorded in `results`), then every server still
    running is stopped, `--json` written and the scratch directory removed
    unless `--keep-tmp`."""
    outcome = Outcome()
    try:
        yield outcome
    except BenchError as e:
        print(f"bench: ERROR: {e}", file=sys.stderr)
        results["error"] = str(e)
        outcome.rc = 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        results["error"] = "interrupted"
        outcome.rc = 130
    finally:
        for srv in list(live):
            srv.stop(5.0)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
            log(f"raw numbers written to {args.json}")
        if args.keep_tmp:
            log(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def binary_info(binary: Path) -> dict:
    """Which Glimpse build ran: path, mtime and (when in a git tree) HEAD."""
    info = {"path": str(binary), "mtime": os.path.getmtime(binary)}
    with contextlib.suppress(Exception):
        info["git_head"] = subprocess.check_output(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, text=True, stderr=subprocess.DEVNULL
        ).strip()
    return info


def ensure_glimpse(binary: Path, build: bool) -> Path:
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    if not build:
        raise BenchError(f"Glimpse binary {binary} not found (and --no-build given)")
    default = ROOT / "target" / "release" / "glimpse"
    if binary.resolve() != default.resolve():
        raise BenchError(f"Glimpse binary {binary} not found")
    if shutil.which("cargo") is None:
        raise BenchError("target/release/glimpse is missing and cargo is not on PATH")
    log("building: cargo build --release -p glimpse")
    rc = subprocess.call(["cargo", "build", "--release", "-p", "glimpse"], cwd=ROOT, stdin=subprocess.DEVNULL)
    if rc != 0 or not binary.is_file():
        raise BenchError(f"cargo build --release -p glimpse failed (exit {rc}); use --only glance to bench Glance alone")
    return binary


# --------------------------------------------------------------------------


def spawn(name: str, cmd: list[str], env: dict, cwd: Path, port: int, run: int) -> Server:
    logfile = cwd / f"{name}-run{run}.log"
    out = open(logfile, "wb")
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # our Ctrl-C does not reach it; we stop it ourselves
        )
    except OSError as e:
        raise BenchError(f"cannot start {name}: {' '.join(cmd)}: {e}") from e
    finally:
        out.close()
    srv = Server(name, proc, port, logfile, t0)
    srv.seen[proc.pid] = start_time(proc.pid)
    return srv


def one_run(side, run: int, args, live: list[Server]) -> dict:
    srv = side.start(run)
    live.append(srv)
    try:
        startup = wait_ready(srv, args.timeout)
        settled, tree = wait_idle(srv, side.workers, startup, args.idle_timeout)
        procs = measure(srv, tree)
    finally:
        stop_s = srv.stop(args.stop_grace)
        live.remove(srv)
    workers = [p for p in procs if p["role"] == "worker"]
    res = {
        "run": run,
        "startup_s": startup,
        "settled_s": settled,
        "stop_s": stop_s,
        "processes": procs,
        "workers": len(workers),
        "rss_total_kb": sum(p["rss_kb"] for p in procs),
        "pss_total_kb": sum(p["pss_kb"] for p in procs),
        "uss_total_kb": sum(p["uss_kb"] for p in procs),
        "rss_master_kb": procs[0]["rss_kb"],
        "rss_per_worker_kb": statistics.mean(p["rss_kb"] for p in workers) if workers else procs[0]["rss_kb"],
    }
    per = ", ".join(f"{p['role']} {p['pid']}: RSS {p['rss_kb']/1024:.1f} PSS {p['pss_kb']/1024:.1f}" for p in procs)
    log(
        f"{side.name} run {run}: first 200 after {startup:.3f}s, all workers settled after ~{settled:.2f}s, "
        f"PSS total {res['pss_total_kb']/1024:.1f} MB [{per}]"
        + (f", stopped in {stop_s:.2f}s" if stop_s is not None else "")
    )
    return res


def summarize(runs: list[dict]) -> dict:
    st = [r["startup_s"] for r in runs]
    return {
        "runs": len(runs),
        "startup_median_s": statistics.median(st),
        "startup_min_s": min(st),
        "startup_max_s": max(st),
        "settled_median_s": statistics.median(r["settled_s"] for r in runs),
        "rss_per_worker_mb": statistics.median(r["rss_per_worker_kb"] for r in runs) / 1024,
        "rss_master_mb": statistics.median(r["rss_master_kb"] for r in runs) / 1024,
        "rss_total_mb": statistics.median(r["rss_total_kb"] for r in runs) / 1024,
        "pss_total_mb": statistics.median(r["pss_total_kb"] for r in runs) / 1024,
        "uss_total_mb": statistics.median(r["uss_total_kb"] for r in runs) / 1024,
    }


def print_table(summary: dict[str, dict], workers: int) -> None:
    rows = [
        ("start-up median (s)", "startup_median_s", "{:.3f}", REF_GLANCE_STARTUP),
        ("start-up min (s)", "startup_min_s", "{:.3f}", ""),
        ("start-up max (s)", "startup_max_s", "{:.3f}", ""),
        ("all settled (s)", "settled_median_s", "{:.2f}", ""),
        ("RSS per worker (MB)", "rss_per_worker_mb", "{:.1f}", REF_GLANCE_RSS + " per process"),
        ("RSS master (MB)", "rss_master_mb", "{:.1f}", ""),
        ("RSS total (MB)", "rss_total_mb", "{:.1f}", ""),
        ("PSS total (MB)", "pss_total_mb", "{:.1f}", ""),
        ("USS total (MB)", "uss_total_mb", "{:.1f}", ""),
    ]
    g, m = summary.get("glance"), summary.get("glimpse")
    head = f"{'':22} {'Glance 33':>11} {'Glimpse':>11} {'Glance/Glimpse':>15}   spec reference (Glance)"
    print()
    print(f"Start-up and memory, {workers} worker(s), medians over runs (RSS/PSS at idle, master + workers)")
    print(head)
    print("-" * len(head))
    for label, key, fmt, ref in rows:
        gv = fmt.format(g[key]) if g else "-"
        mv = fmt.format(m[key]) if m else "-"
        ratio = f"{g[key] / m[key]:.1f}x" if g and m and m[key] > 0 else "-"
        print(f"{label:22} {gv:>11} {mv:>11} {ratio:>15}   {ref}")
    print("all settled: from spawn until the master and every worker stopped using CPU (250 ms resolution)")
    print()
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="cold starts per implementation (default 3)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes for both (default 2)")
    ap.add_argument("--only", choices=["glance", "glimpse"], help="bench one side only")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers as JSON")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the first 200 (default 60)")
    ap.add_argument("--idle-timeout", type=float, default=30.0, help="seconds to wait for workers to go idle (default 30)")
    ap.add_argument("--stop-grace", type=float, default=30.0, help="seconds between SIGTERM and SIGKILL (default 30)")
    ap.add_argument("--glimpse-bin", type=Path, default=ROOT / "target" / "release" / "glimpse")
    ap.add_argument("--no-build", action="store_true", help="never run cargo; fail if the Glimpse binary is missing")
    ap.add_argument("--gunicorn-preload", action="store_true", help="load Glance in the gunicorn arbiter before forking (copy-on-write sharing)")
    ap.add_argument("--minimal-glimpse-conf", action="store_true", help="give Glimpse only [DEFAULT] bind_host/bind_port/workers")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the scratch directory (configs, logs)")
    args = ap.parse_args()
    if args.runs < 1 or args.workers < 1:
        ap.error("--runs and --workers must be >= 1")

    exit_on_signals()

    scratch = Path(tempfile.mkdtemp(prefix="glimpse-bench-"))
    live: list[Server] = []
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
        "config": {"runs": args.runs, "workers": args.workers, "gunicorn_preload": args.gunicorn_preload},
        "reference": {"glance_startup": REF_GLANCE_STARTUP, "glance_rss_per_process": REF_GLANCE_RSS},
        "raw": {},
        "summary": {},
    }
    with bench_session(results, live, args, scratch) as outcome:
        # Setup first, so a broken side fails before any timing.
        ensure_venv(scratch)
        info = venv_info()
        results["glance_env"] = info
        sides = []
        glance = None
        if args.only in (None, "glance"):
            glance = GlanceSide(scratch, args.workers, info, args.gunicorn_preload)
            sides.append(glance)
        if args.only in (None, "glimpse"):
            binary = ensure_glimpse(args.glimpse_bin, not args.no_build)
            db = glance.dir / "glance.sqlite" if glance else None
            sides.append(GlimpseSide(scratch, args.workers, binary, Path(info["paste"]), db, args.minimal_glimpse_conf))
            results["glimpse_bin"] = binary_info(binary)
        log(
            f"{args.runs} run(s) x {', '.join(s.name for s in sides)}, {args.workers} worker(s); "
            f"Glance {info['glance']} on gunicorn {info['gunicorn']}, Python {info['python']}; scratch {scratch}"
        )
        for s in sides:
            results["raw"][s.name] = []
        # Interleave the sides so drift (page cache, thermal, other load) hits both alike.
        for run in range(1, args.runs + 1):
            for s in sides:
                results["raw"][s.name].append(one_run(s, run, args, live))
                time.sleep(0.5)
        for s in sides:
            results["summary"][s.name] = summarize(results["raw"][s.name])
        print_table(results["summary"], args.workers)
        if "glance" in results["summary"] and "glimpse" in results["summary"]:
            g, m = results["summary"]["glance"], results["summary"]["glimpse"]
            results["ratios_glance_over_glimpse"] = {
                k: g[k] / m[k] for k in ("startup_median_s", "rss_per_worker_mb", "pss_total_mb", "rss_total_mb") if m[k] > 0
            }
    return outcome.rc


if __name__ == "__main__":
    sys.exit(main())
