#!/usr/bin/env python3
"""A real Keystone (PyPI `keystone`) on loopback, for tests and the
conformance harness.

    keystone.py setup DIR PORT [--expiration SECS]   # config, db, keys, bootstrap
    keystone.py serve DIR PORT                       # exec gunicorn (foreground)
    keystone.py users DIR PORT [--image-url URL]     # projects, users, roles -> JSON

`setup` writes DIR/keystone.conf (SQLite, fernet tokens, cheap password
hashing so dynamic users are fast on 2 cores), runs keystone-manage
db_sync / fernet_setup / credential_setup / bootstrap (admin/admin-pass in
project admin, region RegionOne, identity endpoints on 127.0.0.1:PORT).
`users` creates the fixture users Glimpse's tests use and prints their
names, ids and passwords as JSON. The venv is the one running this script
(.cache/keystone-venv, made by scripts/test-env.sh).
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(sys.executable))
ADMIN_PASSWORD = "admin-pass"


def conf_text(d, expiration):
    return f"""[DEFAULT]
log_file = {d}/keystone.log
[database]
connection = sqlite:///{d}/keystone.db?timeout=30
[token]
provider = fernet
expiration = {expiration}
[fernet_tokens]
key_repository = {d}/fernet-keys
[fernet_receipts]
key_repository = {d}/fernet-keys
[credential]
key_repository = {d}/credential-keys
[identity]
password_hash_rounds = 4
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
"""


def manage(d, *args):
    cmd = [os.path.join(HERE, "keystone-manage"), "--config-file", f"{d}/keystone.conf", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def setup(d, port, expiration):
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/keystone.conf", "w") as f:
        f.write(conf_text(d, expiration))
    uid, gid = str(os.getuid()), str(os.getgid())
    manage(d, "db_sync")
    # WAL: readers never wait for the writer (the setting stays in the file).
    import sqlite3
    with sqlite3.connect(f"{d}/keystone.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
    manage(d, "fernet_setup", "--keystone-user", uid, "--keystone-group", gid)
    manage(d, "credential_setup", "--keystone-user", uid, "--keystone-group", gid)
    url = f"http://127.0.0.1:{port}/v3"
    manage(d, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
           "--bootstrap-admin-url", url, "--bootstrap-internal-url", url,
           "--bootstrap-public-url", url, "--bootstrap-region-id", "RegionOne")
    with open(f"{d}/wsgi_keystone.py", "w") as f:
        # Keystone's oslo.config would parse gunicorn's argv.
        f.write("import sys\nsys.argv = sys.argv[:1]\n"
                "from keystone.wsgi.api import application  # noqa\n")


def serve(d, port):
    env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=f"{d}/keystone.conf", PYTHONPATH=d)
    os.execve(os.path.join(HERE, "gunicorn"),
              # One sync worker: Keystone's SQLite transactions upgrade
              # read locks to write locks, which fails at once ("database
              # is locked") when two processes write concurrently.
              ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
               "--no-control-socket", "--chdir", d,
               "--error-logfile", f"{d}/gunicorn.log", "wsgi_keystone:application"], env)


def call(port, method, path, body=None, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v3{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as r:
        data = r.read()
        return r.headers, (json.loads(data) if data else None)


def token_for(port, user, password, project):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    headers, _ = call(port, "POST", "/auth/tokens", body)
    return headers["X-Subject-Token"]


def users(port, image_url):
    for _ in range(300):
        try:
            call(port, "GET", "")
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    admin = token_for(port, "admin", ADMIN_PASSWORD, "admin")
    roles = {r["name"]: r["id"] for r in call(port, "GET", "/roles", token=admin)[1]["roles"]}
    if "service" not in roles:
        roles["service"] = call(port, "POST", "/roles", {"role": {"name": "service"}}, admin)[1]["role"]["id"]
    out = {"admin": {"name": "admin", "password": ADMIN_PASSWORD, "project": "admin"}}
    projects = {}
    for p in ["service", "p1", "p2"]:
        projects[p] = call(port, "POST", "/projects",
                           {"project": {"name": p, "domain_id": "default"}}, admin)[1]["project"]["id"]
    fixture = [("glance", "service", ["admin", "service"]),
               ("alice", "p1", ["member"]), ("bob", "p1", ["reader"]),
               ("carol", "p2", ["member"]), ("dave", "p2", ["service"])]
    for name, project, rs in fixture:
        pw = f"{name}-pass"
        uid = call(port, "POST", "/users", {"user": {"name": name, "password": pw,
                                                     "domain_id": "default"}}, admin)[1]["user"]["id"]
        for r in rs:
            call(port, "PUT", f"/projects/{projects[project]}/users/{uid}/roles/{roles[r]}", token=admin)
        out[name] = {"name": name, "password": pw, "project": project, "id": uid}
    out["projects"] = projects
    admin_project = call(port, "GET", "/projects?name=admin", token=admin)[1]["projects"][0]["id"]
    out["projects"]["admin"] = admin_project
    if image_url:
        # The image service in the catalog, as clients (openstack CLI,
        # tempest) find it.
        sid = call(port, "POST", "/services", {"service": {"type": "image", "name": "glance"}},
                   admin)[1]["service"]["id"]
        for iface in ["public", "internal", "admin"]:
            call(port, "POST", "/endpoints", {"endpoint": {
                "service_id": sid, "interface": iface, "url": image_url,
                "region_id": "RegionOne"}}, admin)
    print(json.dumps(out))


def main():
    cmd, d, port = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3])
    if cmd == "setup":
        exp = int(sys.argv[sys.argv.index("--expiration") + 1]) if "--expiration" in sys.argv else 3600
        setup(d, port, exp)
    elif cmd == "serve":
        serve(d, port)
    elif cmd == "users":
        image_url = sys.argv[sys.argv.index("--image-url") + 1] if "--image-url" in sys.argv else None
        users(port, image_url)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
