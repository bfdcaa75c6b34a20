#!/usr/bin/env python3
"""OpenStack's conformance suite (tempest's image v2 API tests and
glance-tempest-plugin) against Glimpse or Python Glance 33, everything on
127.0.0.1: a real Keystone, the image service registered as `image` in its
catalog, tempest with dynamic credentials.

    python3 conformance/run.py                       # Glimpse, core profile, tempest.api.image.v2
    python3 conformance/run.py --target glance       # the same against Glance 33 (the baseline)
    python3 conformance/run.py --suite full          # + glance_tempest_plugin (RBAC: enforce_scope)
    python3 conformance/run.py --profile reference   # the reference deployment (3 stores, import, cache)
    python3 conformance/run.py --known-gaps          # without conformance/known-gaps.txt (what CI runs)

Prints `N passed, N failed, N skipped` (and the failed test ids), exit 0 only
when nothing failed. Installs what it needs once under .cache/ (Keystone 30
and Glance 33 through scripts/test-env.sh; tempest 47 and
glance-tempest-plugin 0.17 in .cache/tempest-venv).

Profiles (the same tempest.conf and service config for either target):
- core: one filesystem store, no import methods tempest could use, no
  image cache; tempest's feature flags say so. What every target must pass.
- reference: conformance-harness's deployment (stores cheap:file,
  fast:file, web:http; glance-direct, web-download, copy-image,
  glance-download; image cache; a loopback HTTP server with a real qcow2).
  Glance 33 scores 260 passed, 0 failed, 7 skipped with --suite full.
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
KS_VENV = CACHE / "keystone-venv"
GLANCE_VENV = CACHE / "venv"
TEMPEST_VENV = CACHE / "tempest-venv"
TEMPEST_PKGS = ["tempest==47.0.0", "glance-tempest-plugin==0.17.0"]


def log(msg: str) -> None:
    print(f"conformance: {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_venvs(target: str) -> None:
    if not (KS_VENV / "bin" / "keystone-manage").exists() or (
            target == "glance" and not (GLANCE_VENV / "bin" / "gunicorn").exists()):
        subprocess.run(["bash", str(ROOT / "scripts" / "test-env.sh")], check=True)
    if not (TEMPEST_VENV / "bin" / "tempest").exists():
        log(f"installing {' '.join(TEMPEST_PKGS)} into {TEMPEST_VENV} (once)")
        shutil.rmtree(TEMPEST_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(TEMPEST_VENV)], check=True)
        subprocess.run([str(TEMPEST_VENV / "bin" / "pip"), "install", "--quiet",
                        "--disable-pip-version-check", *TEMPEST_PKGS], check=True)


class Procs:
    """Processes this run started; stopped by PID (their process group)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], logfile: Path, **kw) -> subprocess.Popen:
        out = open(logfile, "wb")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        out.close()
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=30)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass


def wait_http(url: str, what: str, proc: subprocess.Popen, logfile: Path, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}; see {logfile}:\n{logfile.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} within {timeout:.0f}s; see {logfile}")


def make_qcow2(path: Path) -> None:
    """A real qcow2 (web-download content is format-inspected)."""
    if shutil.which("qemu-img"):
        subprocess.run(["qemu-img", "create", "-f", "qcow2", str(path), "16M"], check=True,
                       stdout=subprocess.DEVNULL)
    else:
        raise SystemExit("qemu-img is needed for the reference profile's http_qcow2_image")


def serve_files(directory: Path) -> int:
    port = free_port()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(directory), **kw)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return port


def service_conf(d: Path, port: int, ks_port: int, profile: str, files_port: int | None, scope: bool) -> str:
    """The same glance-api.conf for either implementation."""
    for sub in ["images", "staging", "tasks", "cheap", "fast", "cache"]:
        (d / sub).mkdir(exist_ok=True)
    text = f"""[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
workers = 2
show_image_direct_url = true
do_secure_hash = true
hashing_algorithm = sha512
"""
    if profile == "reference":
        text += f"""enabled_backends = cheap:file, fast:file, web:http
enabled_import_methods = [glance-direct,web-download,copy-image,glance-download]
show_multiple_locations = true
image_cache_dir = {d}/cache
worker_self_reference_url = http://127.0.0.1:{port}
[glance_store]
default_backend = cheap
[cheap]
filesystem_store_datadir = {d}/cheap
[fast]
filesystem_store_datadir = {d}/fast
[web]
[os_glance_staging_store]
filesystem_store_datadir = {d}/staging
[os_glance_tasks_store]
filesystem_store_datadir = {d}/tasks
[import_filtering_opts]
allowed_hosts = [127.0.0.1]
allowed_ports = [80,443,{files_port},{port}]
[paste_deploy]
flavor = keystone+cachemanagement
"""
    else:
        text += f"""enabled_import_methods = []
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = {d}/images
[paste_deploy]
flavor = keystone
"""
    text += f"""[database]
connection = sqlite:///{d}/glance.sqlite
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:{ks_port}/v3
auth_url = http://127.0.0.1:{ks_port}
auth_type = password
username = glance
password = glance-pass
project_name = service
user_domain_name = Default
project_domain_name = Default
service_token_roles_required = true
[oslo_policy]
enforce_new_defaults = true
enforce_scope = {str(scope).lower()}
"""
    return text


def tempest_conf(ks_port: int, profile: str, files_port: int | None, scope: bool) -> str:
    ref = profile == "reference"
    on = lambda b: "true" if b else "false"  # noqa: E731
    text = f"""[DEFAULT]
log_file = tempest.log
[auth]
use_dynamic_credentials = true
admin_username = admin
admin_password = admin-pass
admin_project_name = admin
admin_domain_name = Default
[identity]
uri_v3 = http://127.0.0.1:{ks_port}/v3
auth_version = v3
region = RegionOne
[identity-feature-enabled]
api_v2 = false
[service_available]
glance = true
nova = false
cinder = false
neutron = false
swift = false
[validation]
run_validation = false
[image]
build_timeout = 120
hashing_algorithm = sha512
"""
    if ref:
        text += f"""http_image = http://127.0.0.1:{files_port}/image.qcow2
http_qcow2_image = http://127.0.0.1:{files_port}/image.qcow2
"""
    text += f"""[image-feature-enabled]
import_image = {on(ref)}
manage_locations = {on(ref)}
http_store_enabled = {on(ref)}
do_secure_hash = true
image_conversion = false
image_format_enforcement = true
os_glance_reserved = true
[enforce_scope]
glance = {on(scope)}
"""
    return text


def known_gaps() -> list[str]:
    out = []
    for line in (ROOT / "conformance" / "known-gaps.txt").read_text().splitlines():
        pattern = line.split("#", 1)[0].strip()
        if pattern:
            out.append(pattern)
    return out


def start_target(target: str, d: Path, procs: Procs, conf_text: str, port: int, binary: Path) -> None:
    (d / "glance-api.conf").write_text(conf_text)
    logfile = d / f"{target}.log"
    if target == "glimpse":
        if not binary.exists():
            subprocess.run(["cargo", "build", "--release", "-p", "glimpse"], cwd=ROOT, check=True)
        shutil.copy(ROOT / "etc" / "glimpse-api-paste.ini", d / "glance-api-paste.ini")
        # The same seed data as the Glance target (its stock metadefs files,
        # from the Glance venv): tempest's resource-type tests need some.
        metadefs = GLANCE_VENV / "etc" / "glance" / "metadefs"
        cmds = [["db", "sync"]]
        if metadefs.is_dir():
            cmds.append(["db", "load_metadefs", str(metadefs)])
        else:
            log(f"WARNING: no {metadefs}: metadefs seed data not loaded")
        for cmd in cmds:
            subprocess.run([str(binary), "manage", "--config-file", str(d / "glance-api.conf"), *cmd],
                           check=True, cwd=d, stdout=subprocess.DEVNULL, env=dict(os.environ, HOME=str(d)))
        p = procs.start([str(binary), "api", "--config-file", str(d / "glance-api.conf")], logfile,
                        cwd=d, env=dict(os.environ, HOME=str(d)))
    else:
        shutil.copy(CACHE / "glance-etc" / "glance-api-paste.ini", d / "glance-api-paste.ini")
        metadefs = str(GLANCE_VENV / "etc" / "glance" / "metadefs")
        for cmd in [["db_sync"], ["db_load_metadefs", metadefs]]:
            subprocess.run([str(GLANCE_VENV / "bin" / "glance-manage"), "--config-file",
                            str(d / "glance-api.conf"), *cmd], check=True, cwd=d,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env = dict(os.environ, OS_GLANCE_CONFIG_DIR=str(d), HOME=str(d))
        # One worker: Glance's SQLite transactions fail with "database is
        # locked" when two workers write at once (its known pitfall), which
        # would make the baseline flaky.
        p = procs.start([str(GLANCE_VENV / "bin" / "gunicorn"), "--workers", "1", "--bind",
                         f"127.0.0.1:{port}", "--timeout", "300", "--no-control-socket",
                         "glance.wsgi.api:application"], logfile, cwd=d, env=env)
    wait_http(f"http://127.0.0.1:{port}/versions", target, p, logfile)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["glimpse", "glance"], default="glimpse")
    ap.add_argument("--profile", choices=["core", "reference"], default="core")
    ap.add_argument("--suite", choices=["quick", "full"], default="quick",
                    help="quick: tempest.api.image.v2; full: + glance_tempest_plugin with enforce_scope")
    ap.add_argument("--regex", help="run only the tests matching this regex instead")
    ap.add_argument("--known-gaps", action="store_true",
                    help="leave out the tests listed in conformance/known-gaps.txt (features Glimpse lacks yet)")
    ap.add_argument("--glimpse-bin", type=Path, default=ROOT / "target" / "release" / "glimpse",
                    help="the glimpse binary (default target/release/glimpse, built if missing)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    args.glimpse_bin = args.glimpse_bin.resolve()  # the service runs in its own directory
    ensure_venvs(args.target)

    scratch = Path(tempfile.mkdtemp(prefix=f"glimpse-conformance-{args.target}-"))
    procs = Procs()
    scope = args.suite == "full"
    keep = True  # until the run finished cleanly
    try:
        files_port = None
        if args.profile == "reference":
            (scratch / "files").mkdir()
            make_qcow2(scratch / "files" / "image.qcow2")
            files_port = serve_files(scratch / "files")

        ks_port, img_port = free_port(), free_port()
        ks = KS_VENV / "bin" / "python"
        script = ROOT / "conformance" / "keystone.py"
        log(f"keystone on 127.0.0.1:{ks_port}")
        subprocess.run([str(ks), str(script), "setup", str(scratch / "keystone"), str(ks_port)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kp = procs.start([str(ks), str(script), "serve", str(scratch / "keystone"), str(ks_port)],
                         scratch / "keystone-serve.log")
        wait_http(f"http://127.0.0.1:{ks_port}/v3", "keystone", kp, scratch / "keystone-serve.log")
        subprocess.run([str(ks), str(script), "users", str(scratch / "keystone"), str(ks_port),
                        "--image-url", f"http://127.0.0.1:{img_port}"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        svc = scratch / "service"
        svc.mkdir()
        log(f"{args.target} on 127.0.0.1:{img_port} ({args.profile} profile)")
        start_target(args.target, svc, procs,
                     service_conf(svc, img_port, ks_port, args.profile, files_port, scope), img_port,
                     args.glimpse_bin)

        ws = scratch / "tempest"
        tempest = str(TEMPEST_VENV / "bin" / "tempest")
        # Tempest registers workspaces in ~/.tempest: keep that in scratch.
        tenv = dict(os.environ, HOME=str(scratch))
        subprocess.run([tempest, "init", str(ws)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=tenv)
        (ws / "etc" / "tempest.conf").write_text(tempest_conf(ks_port, args.profile, files_port, scope))
        regex = args.regex or (r"^tempest\.api\.image\.v2" if args.suite == "quick"
                               else r"(^tempest\.api\.image\.v2|^glance_tempest_plugin\.)")
        # Binds a server on the host's non-loopback address.
        exclude = ["HashCalculationRemoteDeletionTest"]
        if args.known_gaps:
            exclude += known_gaps()
        exclude_re = "|".join(f"(?:{e})" for e in exclude)
        log(f"tempest run --regex '{regex}' --exclude-regex '{exclude_re}' (concurrency {args.concurrency})")
        t0 = time.monotonic()
        run = subprocess.run([tempest, "run", "--regex", regex, "--exclude-regex", exclude_re,
                              "--concurrency", str(args.concurrency)],
                             cwd=ws, capture_output=True, text=True, env=tenv)
        elapsed = time.monotonic() - t0
        (scratch / "tempest-run.txt").write_text(run.stdout + run.stderr)
        out = run.stdout + run.stderr
        counts = {k: int(m.group(1)) if (m := re.search(rf"^ - {k}: (\d+)", out, re.M)) else 0
                  for k in ["Passed", "Failed", "Skipped"]}
        failed = sorted(set(re.findall(r"^\{\d+\} (\S+) \[[\d.]+s\] \.\.\. FAILED", out, re.M)))
        for t in failed:
            print(f"FAILED {t}")
        print(f"{args.target} ({args.profile} profile, {args.suite} suite): {counts['Passed']} passed, "
              f"{counts['Failed']} failed, {counts['Skipped']} skipped in {elapsed:.0f} s")
        ok = counts["Failed"] == 0 and sum(counts.values()) > 0
        keep = args.keep or not ok
        if keep:
            log(f"details kept in {scratch} (tempest-run.txt, service/{args.target}.log)")
        return 0 if ok else 1
    finally:
        procs.stop_all()
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
