#!/usr/bin/env python3
"""Image API throughput, latency, data path and memory: Glance 33 vs Glimpse.

One server at a time (the machine has 2 cores: the two never run together),
same glance-api.conf and the same pre-loaded rows for both: by default one
SQLite database (copied for Glimpse); with --db postgres or --db mysql a
scratch database per side on the loopback server, whose schema that side's
own tool creates (bench_db.py). For each side: start it, load it to --images
images (the rows beyond --api-load are inserted by SQL before start-up,
identical for both sides; the rest are created over the API, which measures
create throughput), then for a fixed duration each under C keep-alive
connections: list, sorted list, show of random ids, create. Then upload and
download a large image, and read the RSS of the master and its workers. Load
comes from bench/loadgen (Rust), not from Python. Prints a table with the
ratios Glimpse/Glance.

Python 3.11 standard library only; the server and venv helpers come from
startup_rss.py. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_db as bdb
import startup_rss as sr
from startup_rss import BenchError, log

ROOT = sr.ROOT
TEST_VENV = ROOT / ".cache" / "venv"  # made by scripts/test-env.sh, also Glance 33 + gunicorn
LOADGEN = ROOT / "target" / "release" / "loadgen"
MB = 1_000_000  # throughput in MB/s = 10^6 bytes/s; RSS in MB = MiB, as startup_rss.py prints it

CREATE_BODY = (
    '{{"name": "{prefix}-{{n}}", "disk_format": "raw", "container_format": "bare", '
    '"tags": ["bench", "load"], "bench_seq": "{{n}}", "bench_source": "{source}"}}'
)
JSON_HEADERS = ["Accept: application/json"]
# (key, label, method, path, needs ids)
READ_TESTS = [
    ("list", "GET /v2/images", "GET", "/v2/images", False),
    ("list_sorted", "GET /v2/images?limit=100&sort=name:asc", "GET", "/v2/images?limit=100&sort=name:asc", False),
    ("show", "GET /v2/images/{id}", "GET", "/v2/images/{id}", True),
]


# --------------------------------------------------------------------------
# Environment


def pick_venv(explicit: Path | None, scratch: Path, db: str = "sqlite") -> Path:
    """The venv startup_rss.py uses (.cache/bench-venv), else scripts/test-env.sh's; else create the former.

    With --db postgres or mysql the venv must also import Glance's driver
    (psycopg2, pymysql); .cache/bench-venv gets it installed if it lacks it."""
    default = sr.VENV
    module, package = bdb.DRIVER.get(db, (None, None))

    def has_driver(v: Path) -> bool:
        return module is None or bdb.venv_has(v / "bin" / "python", module)

    for v in [explicit] if explicit else [default, TEST_VENV]:
        sr.VENV = v  # startup_rss's helpers read this module global
        if sr.venv_ok() and has_driver(v):
            log(f"using the Glance venv {v}")
            return v
    if explicit:
        raise BenchError(f"{explicit} has no working glance=={sr.GLANCE_VERSION} + gunicorn"
                         + (f" + {module} (pip install {package})" if module else ""))
    sr.VENV = default
    sr.ensure_venv(scratch)
    if not has_driver(default):
        log(f"installing {package} into {default} (Glance's driver for --db {db})")
        logfile = default.parent / "bench-venv-install.log"
        sr.run_checked([str(sr.venv_python()), "-m", "pip", "--disable-pip-version-check", "install", "--quiet", package],
                       f"pip install {package}", logfile)
    return default


def ensure_loadgen(binary: Path, build: bool) -> Path:
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    if not build or binary.resolve() != LOADGEN.resolve():
        raise BenchError(f"load generator {binary} not found (cargo build --release -p glimpse-loadgen)")
    log("building: cargo build --release -p glimpse-loadgen")
    rc = subprocess.call(["cargo", "build", "--release", "-p", "glimpse-loadgen"], cwd=ROOT, stdin=subprocess.DEVNULL)
    if rc != 0 or not binary.is_file():
        raise BenchError(f"cargo build --release -p glimpse-loadgen failed (exit {rc})")
    return binary


# --------------------------------------------------------------------------
# Databases: bench_db.py (SQLite file, or a scratch PostgreSQL/MariaDB database per side)


def setup_sides(args, scratch: Path, info: dict, dbs: bdb.Databases, n_sql: int, workers: int,
                results: dict) -> list:
    """The sides to run (Glimpse first), each with `.db`, loaded with the first `n_sql` rows."""
    want_glance = args.only in (None, "glance")
    want_glimpse = args.only in (None, "glimpse")
    sides = []
    glance = None
    if args.db == "sqlite":
        # One file made by glance-manage db_sync, loaded, then copied for Glimpse.
        glance = sr.GlanceSide(scratch, workers, info, preload=False)
        glance.db = bdb.SqliteDb(glance.dir / "glance.sqlite")
        log(f"inserting {n_sql} images by SQL into the SQLite database (copied for Glimpse)")
        t = time.perf_counter()
        glance.db.load(n_sql)
        log(f"inserted in {time.perf_counter() - t:.1f} s")
    elif want_glance:
        db = dbs.create("glance")
        glance = sr.GlanceSide(scratch, workers, info, preload=False, connection=db.url)
        glance.db = db
    if want_glimpse:
        binary = sr.ensure_glimpse(args.glimpse_bin, not args.no_build)
        results["glimpse_bin"] = sr.binary_info(binary)
        if args.db == "sqlite":
            glimpse = sr.GlimpseSide(scratch, workers, binary, Path(info["paste"]), glance.db.path, False)
            glimpse.db = bdb.SqliteDb(glimpse.dir / "glance.sqlite")
        else:
            db = dbs.create("glimpse")
            glimpse = sr.GlimpseSide(scratch, workers, binary, Path(info["paste"]), None, False, connection=db.url)
            glimpse.db = db
            glimpse.db_sync()
        # Glimpse first: if its routes are missing, fail before Glance's long run.
        sides.append(glimpse)
    if want_glance:
        sides.append(glance)
    if args.db != "sqlite":
        for side in sides:
            log(f"{side.name}: loading {n_sql} images into {side.db.name} ({'COPY' if args.db == 'postgres' else 'multi-row INSERTs'})")
            t = time.perf_counter()
            side.db.load(n_sql)
            log(f"{side.name}: loaded in {time.perf_counter() - t:.1f} s")
    results["database"] = {
        "backend": args.db,
        "server": dbs.describe(),
        "databases": {s.name: s.db.url for s in sides},
        "schema_by": {s.name: ("glance-manage db_sync" if s.name == "glance" or args.db == "sqlite"
                               else "glimpse manage db sync") for s in sides},
    }
    return sides


def db_header(args, dbs: bdb.Databases) -> str:
    if args.db == "sqlite":
        return "Database: SQLite, one file made by glance-manage db_sync, loaded, then copied for Glimpse"
    return (f"Database: {dbs.describe()}, one scratch database per side (schema by glance-manage db_sync "
            "and by glimpse manage db sync), the same rows loaded into each")


# --------------------------------------------------------------------------
# HTTP from Python: only single set-up requests; the load comes from loadgen


def request(port: int, method: str, path: str, body: dict | None = None, timeout: float = 60,
            extra_headers: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Accept": "application/json", **(extra_headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def expect(srv: sr.Server, method: str, path: str, want: int, body: dict | None = None) -> bytes:
    status, data = request(srv.port, method, path, body)
    if status == want:
        return data
    hint = ""
    if status == 404 and srv.name == "glimpse":
        hint = (
            "\n  This Glimpse binary does not serve the image routes yet (404). Rebuild it "
            "(cargo build --release -p glimpse) once they exist, or run with --only glance."
        )
    raise BenchError(f"{srv.name}: {method} {path} answered {status}, expected {want}: {data[:300]!r}{hint}")


def loadgen(args, port: int, path: str, *, method: str = "GET", duration: float | None = None,
            count: int | None = None, conns: int | None = None, body: str | None = None,
            body_file: Path | None = None, headers: list[str] = JSON_HEADERS, ids: Path | None = None,
            seq_start: int = 0, timeout: float = 60) -> dict:
    cmd = [str(args.loadgen_bin), "--addr", f"127.0.0.1:{port}", "-X", method, "--path", path,
           "-c", str(conns or args.concurrency), "--threads", str(args.loadgen_threads),
           "--timeout", str(timeout), "--seq-start", str(seq_start)]
    cmd += ["-d", str(duration)] if duration is not None else ["-n", str(count)]
    for h in headers:
        cmd += ["-H", h]
    if body is not None:
        cmd += ["--body", body]
    if body_file is not None:
        cmd += ["--body-file", str(body_file)]
    if ids is not None:
        cmd += ["--ids", str(ids)]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode != 0:
        raise BenchError(f"loadgen failed (exit {p.returncode}): {p.stderr.strip()}\n  {' '.join(cmd)}")
    res = json.loads(p.stdout)
    res["ok"] = sum(n for s, n in res["statuses"].items() if 200 <= int(s) < 300)
    res["ok_rps"] = res["ok"] / res["duration_s"] if res["duration_s"] > 0 else 0.0
    return res


def describe(res: dict) -> str:
    lat = res["latency_ms"]
    bad = res["errors"] + res["non_2xx"]
    text = (f"{res['ok']} ok in {res['duration_s']:.1f}s = {res['ok_rps']:.1f}/s, "
            f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms")
    if bad:
        text += f"; {res['non_2xx']} non-2xx {res['statuses']}, {res['errors']} errors ({res['first_error']})"
    return text


# --------------------------------------------------------------------------
# One side


def rss_tree(srv: sr.Server) -> dict:
    procs = []
    for pid, depth in [(srv.pid, 0)] + srv.remember_tree():
        hwm = 0
        with contextlib.suppress(OSError):
            for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
                if ln.startswith("VmHWM:"):
                    hwm = int(ln.split()[1])
        procs.append({"pid": pid, "role": "master" if depth == 0 else "worker", "rss_kb": sr.mem_kb(pid)["rss_kb"], "hwm_kb": hwm})
    return {
        "processes": procs,
        "rss_total_mb": sum(p["rss_kb"] for p in procs) / 1024,
        "hwm_total_mb": sum(p["hwm_kb"] for p in procs) / 1024,
    }


def bench_side(side, args, scratch: Path, upload: Path, digests: dict, live: list) -> dict:
    out: dict = {}
    db = side.db
    srv = side.start(1)
    live.append(srv)
    try:
        out["startup_s"] = sr.wait_ready(srv, args.timeout)
        log(f"{side.name}: answering on 127.0.0.1:{srv.port} after {out['startup_s']:.2f}s (pid {srv.pid})")

        # Preflight: every route this benchmark uses answers as Glance does.
        created = json.loads(expect(srv, "POST", "/v2/images", 201, {
            "name": "bench-preflight", "disk_format": "raw", "container_format": "bare", "tags": ["bench"]}))
        expect(srv, "GET", f"/v2/images/{created['id']}", 200)
        listed = json.loads(expect(srv, "GET", "/v2/images", 200))
        want = min(25, db.image_count())
        if len(listed.get("images", [])) != want:
            raise BenchError(f"{side.name}: GET /v2/images listed {len(listed.get('images', []))} images, expected {want}")

        # Load over the API (this is the create throughput), then top up what failed.
        missing = args.images - db.image_count()
        body = CREATE_BODY.format(prefix="bench", source="api")
        log(f"{side.name}: creating {missing} images over the API ({args.concurrency} connections)")
        res = loadgen(args, srv.port, "/v2/images", method="POST", count=missing, body=body,
                      headers=JSON_HEADERS + ["Content-Type: application/json"], seq_start=args.images - missing)
        out["load_create"] = res
        log(f"{side.name}: load: {describe(res)}")
        for attempt in range(10):
            missing = args.images - db.image_count()
            if missing <= 0:
                break
            log(f"{side.name}: {missing} creates failed; creating them again with 2 connections")
            loadgen(args, srv.port, "/v2/images", method="POST", count=missing, conns=2, body=body,
                    headers=JSON_HEADERS + ["Content-Type: application/json"], seq_start=10 * args.images + 1000 * attempt)
        total = db.image_count()
        if total < args.images:
            raise BenchError(f"{side.name}: only {total} of {args.images} images after retries")
        ids_file = scratch / f"{side.name}-ids.txt"
        ids_file.write_text("\n".join(r[0] for r in db.query("SELECT id FROM images WHERE NOT deleted")) + "\n")
        out["images_before_tests"] = total

        # Fixed-duration tests.
        out["tests"] = {}
        for key, label, method, path, needs_ids in READ_TESTS:
            ids = ids_file if needs_ids else None
            if args.warmup > 0:
                loadgen(args, srv.port, path, method=method, duration=args.warmup, ids=ids)
            res = loadgen(args, srv.port, path, method=method, duration=args.duration, ids=ids)
            out["tests"][key] = res
            log(f"{side.name}: {label}: {describe(res)}")
        res = loadgen(args, srv.port, "/v2/images", method="POST", duration=args.duration,
                      body=CREATE_BODY.format(prefix="bench-create", source="api"),
                      headers=JSON_HEADERS + ["Content-Type: application/json"], seq_start=100 * args.images)
        out["tests"]["create"] = res
        log(f"{side.name}: POST /v2/images: {describe(res)}")

        # Data path: one upload, one download of the same file.
        size = upload.stat().st_size
        img = json.loads(expect(srv, "POST", "/v2/images", 201, {
            "name": "bench-upload", "disk_format": "raw", "container_format": "bare"}))
        os.sync()  # earlier writes are not flushed during the upload
        log(f"{side.name}: uploading {size / 2**20:.0f} MiB")
        res = loadgen(args, srv.port, f"/v2/images/{img['id']}/file", method="PUT", count=1, conns=1,
                      body_file=upload, headers=["Content-Type: application/octet-stream"], timeout=args.transfer_timeout)
        if res["ok"] != 1:
            hint = " (the file routes are missing)" if "404" in res["statuses"] else ""
            raise BenchError(f"{side.name}: PUT /v2/images/ID/file failed{hint}: {res['statuses']} {res['first_error']}")
        out["upload"] = res
        out["upload_mb_s"] = size / res["duration_s"] / MB
        shown = json.loads(expect(srv, "GET", f"/v2/images/{img['id']}", 200))
        want = {"status": "active", "size": size, "checksum": digests["md5"], "os_hash_algo": "sha512", "os_hash_value": digests["sha512"]}
        wrong = {k: shown.get(k) for k, v in want.items() if shown.get(k) != v}
        if wrong:
            raise BenchError(f"{side.name}: after the upload the image has {wrong}, expected {want}")
        res = loadgen(args, srv.port, f"/v2/images/{img['id']}/file", count=1, conns=1,
                      headers=["Accept: application/octet-stream"], timeout=args.transfer_timeout)
        if res["ok"] != 1 or res["body_bytes_received"] != size:
            raise BenchError(f"{side.name}: GET /v2/images/ID/file: {res['statuses']}, {res['body_bytes_received']} of {size} bytes, {res['first_error']}")
        out["download"] = res
        out["download_mb_s"] = size / res["duration_s"] / MB
        log(f"{side.name}: upload {out['upload_mb_s']:.0f} MB/s, download {out['download_mb_s']:.0f} MB/s")

        out["memory"] = rss_tree(srv)
        out["images_after"] = db.image_count()
        log(f"{side.name}: RSS after the load {out['memory']['rss_total_mb']:.1f} MB over {len(out['memory']['processes'])} processes")
    finally:
        srv.stop(args.stop_grace)
        live.remove(srv)
    return out


def cpu_busy(seconds: float) -> float:
    """Fraction of all CPUs' time spent busy (not idle/iowait) over `seconds`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(f), f[3] + f[4]  # total, idle + iowait

    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 1 - (i1 - i0) / (t1 - t0) if t1 > t0 else 0.0


# --------------------------------------------------------------------------
# Upload source and the hashing reference


def make_upload(path: Path, mib: int) -> None:
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(2**20))
    os.sync()


def hash_reference(path: Path) -> dict:
    """md5sum then sha512sum of the file (warm page cache): what one upload computes, one after the other."""
    with open(path, "rb") as f:
        while f.read(8 * 2**20):
            pass
    out = {}
    for tool, key in (("md5sum", "md5"), ("sha512sum", "sha512")):
        t0 = time.monotonic()
        text = subprocess.check_output([tool, str(path)], text=True)
        out[f"{key}_s"] = time.monotonic() - t0
        out[key] = text.split()[0]
    size = path.stat().st_size
    out["md5_mb_s"] = size / out["md5_s"] / MB
    out["sha512_mb_s"] = size / out["sha512_s"] / MB
    out["both_mb_s"] = size / (out["md5_s"] + out["sha512_s"]) / MB
    return out


# --------------------------------------------------------------------------
# Report


def print_table(results: dict, args, db_line: str) -> None:
    sides = results["sides"]
    g, m = sides.get("glance"), sides.get("glimpse")
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, get, fmt: str = "{:.1f}", ratio: bool = True) -> None:
        vals = []
        for s in (g, m):
            try:
                vals.append(get(s) if s else None)
            except (KeyError, TypeError):
                vals.append(None)
        cells = [fmt.format(v) if v is not None else "-" for v in vals]
        r = f"{vals[1] / vals[0]:.2f}x" if ratio and None not in vals and vals[0] else "-"
        rows.append((label, cells[0], cells[1], r))

    def test_rows(title: str, get_res) -> None:
        row(f"{title}  req/s", lambda s: get_res(s)["ok_rps"])
        row("    p50 ms", lambda s: get_res(s)["latency_ms"]["p50"], "{:.2f}")
        row("    p99 ms", lambda s: get_res(s)["latency_ms"]["p99"], "{:.2f}")
        row("    failed (non-2xx + errors)", lambda s: get_res(s)["non_2xx"] + get_res(s)["errors"], "{:d}", ratio=False)

    n_api = args.images - args.sql_images
    test_rows(f"create while loading ({n_api - 1})", lambda s: s["load_create"])
    for key, label, *_ in READ_TESTS:
        test_rows(label, lambda s, k=key: s["tests"][k])
    test_rows("POST /v2/images", lambda s: s["tests"]["create"])
    h = results.get("hash_reference", {})
    row(f"upload {args.upload_mib} MiB  MB/s", lambda s: s["upload_mb_s"], "{:.0f}")
    if h:
        row("    upload / (md5sum+sha512sum)", lambda s: s["upload_mb_s"] / h["both_mb_s"], "{:.2f}")
    row(f"download {args.upload_mib} MiB  MB/s", lambda s: s["download_mb_s"], "{:.0f}")
    row("RSS after the load, total MB", lambda s: s["memory"]["rss_total_mb"])
    row("    peak (sum of VmHWM) MB", lambda s: s["memory"]["hwm_total_mb"])

    print()
    print(f"Image API: Glance 33 (gunicorn) vs Glimpse, {args.workers} worker(s) each, {args.concurrency} keep-alive "
          f"connections, {args.duration:g} s per test")
    print(f"{args.images} images per side: {args.sql_images} inserted by SQL before start-up (the same rows for both), "
          f"{n_api} created over the API")
    print(db_line)
    print("The servers ran one after the other, never together (2-core machine); the load generator "
          f"({args.loadgen_threads} thread) shares the cores with the server under test.")
    head = f"{'':46} {'Glance 33':>11} {'Glimpse':>11} {'Glimpse/Glance':>15}"
    print(head)
    print("-" * len(head))
    for label, gv, mv, ratio in rows:
        print(f"{label:46} {gv:>11} {mv:>11} {ratio:>15}")
    if h:
        print(f"md5sum + sha512sum of the same file, one after the other: {h['both_mb_s']:.0f} MB/s "
              f"(md5 {h['md5_mb_s']:.0f}, sha512 {h['sha512_mb_s']:.0f})")
    print("req/s count 2xx answers only; MB = 10^6 bytes for throughput, MiB for RSS. "
          "Glimpse/Glance > 1 is better for req/s and MB/s, < 1 for latency and RSS.")
    print()
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="worker processes for both (default 2)")
    ap.add_argument("--concurrency", "-c", type=int, default=16, help="keep-alive connections per test (default 16)")
    ap.add_argument("--duration", "-d", type=float, default=10.0, help="seconds per fixed-duration test (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="unreported seconds before each read test (default 2)")
    ap.add_argument("--images", type=int, default=10_000, help="images in each database before the tests (default 10000)")
    ap.add_argument("--api-load", type=int, default=1_000, help="how many of them are created over the API (default 1000); the rest by SQL")
    ap.add_argument("--upload-mib", type=int, default=1024, help="size of the uploaded image in MiB (default 1024)")
    ap.add_argument("--only", choices=["glance", "glimpse"], help="bench one side only")
    ap.add_argument("--db", choices=bdb.BACKENDS, default="sqlite",
                    help="database backend (default sqlite; postgres: 127.0.0.1:5432 as postgres, mysql: "
                         "127.0.0.1:3306 as root; a scratch database per side, dropped at the end)")
    ap.add_argument("--json", metavar="FILE", help="write all raw numbers as JSON")
    ap.add_argument("--glimpse-bin", type=Path, default=ROOT / "target" / "release" / "glimpse")
    ap.add_argument("--loadgen-bin", type=Path, default=LOADGEN)
    ap.add_argument("--loadgen-threads", type=int, default=1, help="threads of the load generator (default 1)")
    ap.add_argument("--venv", type=Path, help="Glance 33 venv (default: .cache/bench-venv if usable, else .cache/venv, else create the former)")
    ap.add_argument("--no-build", action="store_true", help="never run cargo; fail if a binary is missing")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the first 200 (default 60)")
    ap.add_argument("--transfer-timeout", type=float, default=600.0, help="seconds allowed for the upload or the download (default 600)")
    ap.add_argument("--stop-grace", type=float, default=30.0, help="seconds between SIGTERM and SIGKILL (default 30)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the scratch directory (configs, logs, databases)")
    args = ap.parse_args()
    if min(args.workers, args.concurrency, args.images, args.upload_mib, args.loadgen_threads) < 1 or args.duration <= 0:
        ap.error("--workers, --concurrency, --images, --upload-mib, --loadgen-threads and --duration must be positive")
    if not 2 <= args.api_load <= args.images:
        ap.error("--api-load must be between 2 and --images")
    args.sql_images = args.images - args.api_load

    sr.exit_on_signals()

    scratch = Path(tempfile.mkdtemp(prefix="glimpse-apibench-"))
    live: list[sr.Server] = []
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()},
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "sides": {},
    }
    dbs = bdb.Databases(args.db, "glimpse_apibench", scratch)
    # Databases outside bench_session: the servers are stopped before the scratch databases are dropped.
    with dbs, sr.bench_session(results, live, args, scratch) as outcome:
        if args.db != "sqlite":
            bdb.server_reachable(args.db)
            log(f"database: {dbs.describe()}")
        args.loadgen_bin = ensure_loadgen(args.loadgen_bin, not args.no_build)
        results["glance_venv"] = str(pick_venv(args.venv, scratch, args.db))
        info = sr.venv_info()
        results["glance_env"] = info
        sides = setup_sides(args, scratch, info, dbs, args.sql_images, args.workers, results)
        upload = scratch / "upload.bin"
        log(f"writing a {args.upload_mib} MiB upload file and timing md5sum + sha512sum on it")
        make_upload(upload, args.upload_mib)
        results["hash_reference"] = digests = hash_reference(upload)
        log(f"md5sum {digests['md5_mb_s']:.0f} MB/s, sha512sum {digests['sha512_mb_s']:.0f} MB/s, "
            f"one after the other {digests['both_mb_s']:.0f} MB/s")
        log(f"Glance {info['glance']} on gunicorn {info['gunicorn']}; {args.workers} worker(s); "
            f"{' then '.join(s.name for s in sides)}, one at a time; {args.db}; scratch {scratch}")
        for s in sides:
            busy = cpu_busy(1.0)
            if busy > 0.25:
                log(f"warning: {busy * 100:.0f}% of the CPU time was busy in the second before {s.name} starts: "
                    "something else is running, numbers will be noisy")
            results["sides"][s.name] = bench_side(s, args, scratch, upload, digests, live)
            results["sides"][s.name]["cpu_busy_before"] = busy
            os.sync()
            time.sleep(1.0)
        print_table(results, args, db_header(args, dbs))
    return outcome.rc


if __name__ == "__main__":
    sys.exit(main())
