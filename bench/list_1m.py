#!/usr/bin/env python3
"""List latency with a very large image table: Glance 33 vs Glimpse.

Inserts --images rows (default 1,000,000, each with two properties and two
tags, as api_bench.py writes them) by SQL: with --db sqlite (the default)
into one SQLite database made by glance-manage db_sync and copied for
Glimpse; with --db postgres or --db mysql into a scratch database per side,
whose schema that side's own tool made. Then it serves them with each side in
turn (one worker, never both at once) and times single requests to GET
/v2/images: the first page, a page deep behind a marker, a large page,
common filters, and the filters/sorts on columns Glance's schema does not
index. Each request runs --runs times; the median is reported.

Python 3.11 standard library only; servers and venv come from
startup_rss.py / api_bench.py. See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import api_bench as ab
import bench_db as bdb
import startup_rss as sr
from startup_rss import BenchError, log


def cases(db) -> list[tuple[str, str]]:
    """The requests; ids and names from `db` (every side's database holds the same rows)."""
    deep = db.query("SELECT id FROM images ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET "
                    f"{db.image_count() // 2}")[0][0]
    one_id, one_name = db.query("SELECT id, name FROM images ORDER BY id LIMIT 1 OFFSET 777")[0][:2]
    return [
        ("first page (default 25)", "/v2/images"),
        ("page behind a marker half-way down", f"/v2/images?marker={deep}"),
        ("limit=1000", "/v2/images?limit=1000"),
        ("tag=bench", "/v2/images?tag=bench"),
        ("status=queued", "/v2/images?status=queued"),
        ("disk_format=raw", "/v2/images?disk_format=raw"),
        ("visibility=private (none)", "/v2/images?visibility=private"),
        ("owner=nobody (none)", "/v2/images?owner=nobody"),
        ("id=<one>", f"/v2/images?id={one_id}"),
        ("show one image", f"/v2/images/{one_id}"),
        ("name=<one> (no index in Glance's schema)", f"/v2/images?name={one_name}"),
        ("sort=name:asc (no index in Glance's schema)", "/v2/images?sort=name:asc"),
    ]


def time_side(srv: sr.Server, todo: list[tuple[str, str]], runs: int, timeout: float) -> dict:
    out = {}
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    for label, path in todo:
        took = []
        for _ in range(runs):
            t = time.perf_counter()
            conn.request("GET", path, headers={"Accept": "application/json"})
            r = conn.getresponse()
            body = r.read()
            took.append(time.perf_counter() - t)
            if r.status != 200:
                raise BenchError(f"{srv.name}: GET {path} answered {r.status}: {body[:200]!r}")
        n = len(json.loads(body).get("images", [None]))
        out[label] = {"median_ms": statistics.median(took) * 1000, "runs_ms": [x * 1000 for x in took], "items": n}
        log(f"{srv.name}: {label}: {out[label]['median_ms']:.1f} ms ({n} items)")
    conn.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=["glance", "glimpse"])
    ap.add_argument("--db", choices=bdb.BACKENDS, default="sqlite",
                    help="database backend (default sqlite; postgres: 127.0.0.1:5432 as postgres, mysql: "
                         "127.0.0.1:3306 as root; a scratch database per side, dropped at the end)")
    ap.add_argument("--glimpse-bin", type=Path, default=sr.ROOT / "target" / "release" / "glimpse")
    ap.add_argument("--venv", type=Path)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per request")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the scratch directory (configs, server logs, SQLite files)")
    args = ap.parse_args()
    if args.images < 1000 or args.runs < 1:
        ap.error("--images must be at least 1000 and --runs at least 1")

    sr.exit_on_signals()

    scratch = Path(tempfile.mkdtemp(prefix="glimpse-list1m-"))
    results: dict = {"images": args.images, "db": args.db, "sides": {}}
    live: list[sr.Server] = []
    dbs = bdb.Databases(args.db, "glimpse_list1m", scratch)
    # Databases outside bench_session: the servers are stopped before the scratch databases are dropped.
    with dbs, sr.bench_session(results, live, args, scratch) as outcome:
        if args.db != "sqlite":
            bdb.server_reachable(args.db)
            log(f"database: {dbs.describe()}")
        ab.pick_venv(args.venv, scratch, args.db)
        info = sr.venv_info()
        sides = ab.setup_sides(args, scratch, info, dbs, args.images, 1, results)
        todo = cases(sides[0].db)
        for side in sides:
            srv = side.start(1)
            live.append(srv)
            try:
                sr.wait_ready(srv, 120)
                results["sides"][side.name] = time_side(srv, todo, args.runs, args.timeout)
            finally:
                srv.stop(30)
                live.remove(srv)
        where = ("one SQLite file (copied for Glimpse)" if args.db == "sqlite"
                 else f"{dbs.describe()}, one database per side")
        print(f"\nGET /v2/images with {args.images} images in {where}, 1 worker, median of {args.runs} (ms)")
        names = list(results["sides"])
        head = f"{'':46}" + "".join(f"{n:>12}" for n in names) + ("    Glance/Glimpse" if len(names) == 2 else "")
        print(head)
        print("-" * len(head))
        for label, _ in todo:
            vals = [results["sides"][n][label]["median_ms"] for n in names]
            row = f"{label:46}" + "".join(f"{v:12.1f}" for v in vals)
            glance_ms = results["sides"].get("glance", {}).get(label, {}).get("median_ms")
            glimpse_ms = results["sides"].get("glimpse", {}).get(label, {}).get("median_ms")
            if glance_ms and glimpse_ms:
                row += f"{glance_ms / glimpse_ms:16.1f}x"
            print(row)
        sys.stdout.flush()
    return outcome.rc


if __name__ == "__main__":
    sys.exit(main())
