#!/usr/bin/env python3
"""Authenticated vs unauthenticated request throughput of Glimpse.

Starts a real Keystone (PyPI keystone 30 from .cache/keystone-venv, made by
scripts/test-env.sh; conformance/keystone.py does the set-up), then Glimpse
twice on the same SQLite database, one after the other:
  - noauth:   the stock `unauthenticated-context` pipeline (legacy policy
              defaults, as Glimpse's embedded mode);
  - keystone: `flavor = keystone` (authtoken + context, secure-RBAC
              defaults), every request carrying a token: once an admin's
              (the same database queries as noauth, whose context is an
              admin: the difference is the cost of authentication and
              policy), once a project member's (whose list also filters by
              visibility and membership, as Glance's does);
  - trusted:  no authtoken, the member's identity given as headers
              (X-Roles, X-Project-Id), secure-RBAC defaults: the member's
              queries and policy without token validation, so that
              keystone-member/trusted is the cost of authentication alone.
Each side serves GET /v2/images and GET /v2/images/{id} for --duration
seconds under --concurrency keep-alive connections (bench/loadgen), after a
warm-up that also fills the token cache. Prints req/s, p99 and the ratio
keystone/noauth and keystone-member/trusted (the Keystone issue's target:
>= 0.8).

Python 3.11 standard library only.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import api_bench as ab
import startup_rss as sr
from startup_rss import BenchError, log

ROOT = sr.ROOT
sys.path.insert(0, str(ROOT / "conformance"))
import keystone as keystone_helper  # noqa: E402  (conformance/keystone.py)
KS_VENV = ROOT / ".cache" / "keystone-venv"
KS_SCRIPT = ROOT / "conformance" / "keystone.py"
PASTE = ROOT / "etc" / "glimpse-api-paste.ini"


def keystone(scratch: Path, live: list) -> tuple[int, dict]:
    py = KS_VENV / "bin" / "python"
    if not py.exists():
        raise BenchError(f"no Keystone venv at {KS_VENV}: run scripts/test-env.sh first")
    d = scratch / "keystone"
    port = sr.free_port()
    log("keystone: setup (db_sync, fernet keys, bootstrap)")
    sr.run_checked([str(py), str(KS_SCRIPT), "setup", str(d), str(port)], "keystone setup",
                   scratch / "keystone-setup.log")
    srv = sr.spawn("keystone", [str(py), str(KS_SCRIPT), "serve", str(d), str(port)],
                   dict(sr.os.environ), scratch, port, 0)
    live.append(srv)
    out = subprocess.run([str(py), str(KS_SCRIPT), "users", str(d), str(port)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise BenchError(f"keystone users failed: {out.stderr[-2000:]}")
    return port, json.loads(out.stdout)


def token(ks_port: int, user: dict) -> str:
    return keystone_helper.token_for(ks_port, user["name"], user["password"], user["project"])


TRUSTED_PIPELINE = "\n[pipeline:glance-api-trusted]\npipeline = versionnegotiation context rootapp\n"


def conf_text(d: Path, port: int, workers: int, ks_port: int | str | None) -> str:
    text = (f"[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\nworkers = {workers}\n"
            f"[database]\nconnection = sqlite:///{d}/glance.sqlite\n"
            f"[glance_store]\nfilesystem_store_datadir = {d}/images\n")
    if ks_port is None:
        return text + "[oslo_policy]\nenforce_new_defaults = false\n"
    if ks_port == "trusted":
        return text + "[paste_deploy]\nflavor = trusted\n[oslo_policy]\nenforce_new_defaults = true\n"
    return text + (
        "[paste_deploy]\nflavor = keystone\n"
        f"[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:{ks_port}/v3\n"
        f"auth_url = http://127.0.0.1:{ks_port}\nauth_type = password\nusername = glance\n"
        "password = glance-pass\nproject_name = service\nuser_domain_name = Default\n"
        "project_domain_name = Default\n[oslo_policy]\nenforce_new_defaults = true\n")


def start(name: str, d: Path, args, ks_port: int | None, live: list) -> sr.Server:
    port = sr.free_port()
    conf = d / "glance-api.conf"
    conf.write_text(conf_text(d, port, args.workers, ks_port))
    srv = sr.spawn(name, [str(args.glimpse_bin), "api", "--config-file", str(conf)],
                   dict(sr.os.environ, HOME=str(d)), d, port, 0)
    live.append(srv)
    sr.wait_ready(srv, 60)
    return srv


def measure(name: str, srv: sr.Server, args, tok: str | None, ids: Path,
            identity: list[str] | None = None) -> dict:
    headers = ab.JSON_HEADERS + ([f"X-Auth-Token: {tok}"] if tok else []) + (identity or [])
    out = {}
    for label, path, extra in [("list", "/v2/images", {}), ("show", "/v2/images/{id}", {"ids": ids})]:
        ab.loadgen(args, srv.port, path, duration=args.warmup, headers=headers, **extra)
        res = ab.loadgen(args, srv.port, path, duration=args.duration, headers=headers, **extra)
        bad = res["count"] - res["ok"]
        if bad:
            raise BenchError(f"{name} {label}: {bad} answers were not 2xx: {res['statuses']} {res.get('first_error')}")
        log(f"{name}: {label}: {ab.describe(res)}")
        out[label] = res
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", "-c", type=int, default=16)
    ap.add_argument("--duration", "-d", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--images", type=int, default=200, help="images created before measuring (default 200)")
    ap.add_argument("--glimpse-bin", type=Path, default=ROOT / "target" / "release" / "glimpse")
    ap.add_argument("--loadgen-bin", type=Path, default=ROOT / "target" / "release" / "loadgen")
    ap.add_argument("--loadgen-threads", type=int, default=1)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args()
    args.glimpse_bin = sr.ensure_glimpse(args.glimpse_bin, not args.no_build)
    args.loadgen_bin = ab.ensure_loadgen(args.loadgen_bin, not args.no_build)
    scratch = Path(tempfile.mkdtemp(prefix="glimpse-authbench-"))
    live: list[sr.Server] = []
    try:
        ks_port, users = keystone(scratch, live)
        d = scratch / "glimpse"
        d.mkdir()
        shutil.copy(PASTE, d / "glance-api-paste.ini")
        alice = token(ks_port, users["alice"])

        # Images owned by alice's project, created through the keystone side.
        srv = start("glimpse-keystone", d, args, ks_port, live)
        ids = []
        for n in range(args.images):
            status, body = ab.request(srv.port, "POST", "/v2/images",
                                      {"name": f"auth-{n}", "disk_format": "raw", "container_format": "bare"},
                                      extra_headers={"X-Auth-Token": alice})
            if status != 201:
                raise BenchError(f"create as alice: {status} {body[:200]!r}")
            ids.append(json.loads(body)["id"])
        ids_file = scratch / "ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        admin = token(ks_port, users["admin"])
        results = {"keystone": measure("keystone (admin)", srv, args, admin, ids_file),
                   "member": measure("keystone (member)", srv, args, alice, ids_file)}
        srv.stop(30)
        live.remove(srv)

        srv = start("glimpse-noauth", d, args, None, live)
        results["noauth"] = measure("noauth", srv, args, None, ids_file)
        status, body = ab.request(srv.port, "GET", f"/v2/images/{ids[0]}", None)
        project = json.loads(body)["owner"]
        srv.stop(30)
        live.remove(srv)

        with open(d / "glance-api-paste.ini", "a") as f:
            f.write(TRUSTED_PIPELINE)
        srv = start("glimpse-trusted", d, args, "trusted", live)
        identity = ["X-Identity-Status: Confirmed", "X-Roles: member,reader",
                    f"X-Project-Id: {project}", "X-User-Id: alice"]
        results["trusted"] = measure("trusted (member)", srv, args, None, ids_file, identity)
        srv.stop(30)
        live.remove(srv)
    finally:
        for s in reversed(live):
            s.stop(30)
        if not args.keep_tmp:
            shutil.rmtree(scratch, ignore_errors=True)

    print(f"\nGlimpse, {args.workers} workers, {args.concurrency} keep-alive connections, {args.duration:.0f} s per test, "
          f"{args.images} images of the caller's project")
    print(f"{'':20}{'noauth':>10}{'keystone admin':>16}{'ratio':>8}{'keystone member':>17}{'ratio':>8}")
    for label in ["list", "show"]:
        a, k, m = (results[s][label] for s in ["noauth", "keystone", "member"])
        print(f"{label + ' req/s':20}{a['ok_rps']:10.1f}{k['ok_rps']:16.1f}{k['ok_rps'] / a['ok_rps']:7.2f}x"
              f"{m['ok_rps']:17.1f}{m['ok_rps'] / a['ok_rps']:7.2f}x")
        print(f"{'    p99 ms':20}{a['latency_ms']['p99']:10.2f}{k['latency_ms']['p99']:16.2f}{'':8}"
              f"{m['latency_ms']['p99']:17.2f}")
    print("\nThe member with a token against the same member without token validation (trusted headers):")
    print(f"{'':20}{'trusted':>10}{'keystone member':>17}{'ratio':>8}")
    for label in ["list", "show"]:
        t, m = (results[s][label] for s in ["trusted", "member"])
        print(f"{label + ' req/s':20}{t['ok_rps']:10.1f}{m['ok_rps']:17.1f}{m['ok_rps'] / t['ok_rps']:7.2f}x")
        print(f"{'    p99 ms':20}{t['latency_ms']['p99']:10.2f}{m['latency_ms']['p99']:17.2f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
