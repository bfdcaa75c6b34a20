"""The benchmarks' databases: a SQLite file, or a scratch database on the
loopback PostgreSQL or MariaDB/MySQL server, and the rows loaded into them.

`--db sqlite` (the default) keeps the original set-up: one file made by
`glance-manage db_sync`, loaded with Python's sqlite3 module, copied for
Glimpse. `--db postgres` and `--db mysql` give each side its own scratch
database, created and dropped with the servers' command-line clients
(`psql` as postgres on 127.0.0.1:5432 with trust authentication, `mysql` as
root without a password on 127.0.0.1:3306); each side creates its schema
with its own tool, and the same rows are loaded into both with `psql` (COPY)
or `mysql` (multi-row INSERTs).

Python 3.11 standard library only: no database driver in this process.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import signal
import sqlite3
import subprocess
import uuid
from pathlib import Path

from startup_rss import BenchError, log, tail

BACKENDS = ("sqlite", "postgres", "mysql")
# The Python driver Glance's SQLAlchemy needs for each server backend, and its PyPI name.
DRIVER = {"postgres": ("psycopg2", "psycopg2-binary"), "mysql": ("pymysql", "PyMySQL")}
PG = ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
MY = ["mysql", "-h", "127.0.0.1", "-P", "3306", "-u", "root", "--protocol=TCP"]
CHUNK = 10_000  # images generated (and, on MySQL, committed) at a time
MY_ROWS_PER_INSERT = 1_000

IMAGE_COLS = ("id, name, size, status, created_at, updated_at, deleted_at, deleted, disk_format, container_format,"
              " checksum, owner, min_disk, min_ram, protected, virtual_size, visibility, os_hidden, os_hash_algo,"
              " os_hash_value")
PROP_COLS = "image_id, name, value, created_at, updated_at, deleted_at, deleted"
TAG_COLS = "image_id, value, created_at, updated_at, deleted_at, deleted"
TABLES = (("images", IMAGE_COLS), ("image_properties", PROP_COLS), ("image_tags", TAG_COLS))


# --------------------------------------------------------------------------
# The rows: what POST /v2/images with a name, raw/bare, 2 tags and 2
# properties writes (as Glance 33 stores it), identical on every backend.
# Timestamps are datetimes and booleans bools; each backend writes them in
# its own form (MySQL's DATETIME keeps whole seconds only).


def base_time() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0) - datetime.timedelta(days=1)


def image_id(i: int) -> str:
    return str(uuid.UUID(bytes=hashlib.md5(f"glimpse-bench/{i}".encode()).digest(), version=4))


def image_rows(seqs, base: datetime.datetime) -> tuple[list, list, list]:
    """The rows of the images numbered `seqs`."""
    images, props, tags = [], [], []
    for i in seqs:
        image_id_ = image_id(i)
        name = "img-" + hashlib.sha1(str(i).encode()).hexdigest()[:10]  # names in no particular order
        ts = base + datetime.timedelta(milliseconds=i)
        images.append((image_id_, name, None, "queued", ts, ts, None, False, "raw", "bare", None, None, 0, 0, False,
                       None, "shared", False, None, None))
        props += [(image_id_, "bench_seq", str(i), ts, ts, None, False),
                  (image_id_, "bench_source", "sql", ts, ts, None, False)]
        tags += [(image_id_, "bench", ts, ts, None, False), (image_id_, "load", ts, ts, None, False)]
    return images, props, tags


# One base per run, so that both sides' databases get the very same rows.
BASE = base_time()


def chunks(n: int, base: datetime.datetime = BASE, by_id: bool = False):
    """The rows of images 0..n, CHUNK images at a time; `by_id`: in the
    order of their ids, which InnoDB's clustered primary key wants (random
    ids made each insert touch a random page of a table larger than the
    buffer pool: ~25 minutes for 1,000,000 images on MariaDB)."""
    seqs = sorted(range(n), key=image_id) if by_id else range(n)
    for start in range(0, n, CHUNK):
        yield image_rows(seqs[start:start + CHUNK], base)


# --------------------------------------------------------------------------
# SQLite


class SqliteDb:
    backend = "sqlite"

    def __init__(self, path: Path):
        self.path = path
        self.name = str(path)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def load(self, n: int) -> None:
        def row(r):  # the text form Glance's SQLAlchemy writes; bools as 0/1
            return tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime.datetime)
                         else int(v) if isinstance(v, bool) else v for v in r)

        con = sqlite3.connect(self.path)
        try:
            with con:
                for rows in chunks(n):
                    for (table, cols), data in zip(TABLES, rows):
                        marks = ", ".join("?" * (cols.count(",") + 1))
                        con.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", map(row, data))
        finally:
            con.close()

    def query(self, sql: str) -> list[tuple]:
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def image_count(self) -> int:
        return int(self.query("SELECT count(*) FROM images WHERE NOT deleted")[0][0])


# --------------------------------------------------------------------------
# PostgreSQL and MariaDB/MySQL, through their command-line clients


def _pg_text(v) -> str:
    """One value in COPY's text format."""
    if v is None:
        return r"\N"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _my_literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, datetime.datetime):
        return v.strftime("'%Y-%m-%d %H:%M:%S'")  # DATETIME: whole seconds
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


class ServerDb:
    """One scratch database on the loopback PostgreSQL or MariaDB/MySQL server."""

    def __init__(self, backend: str, name: str, logdir: Path):
        assert backend in ("postgres", "mysql") and name.replace("_", "").isalnum()
        self.backend = backend
        self.name = name
        self.logfile = logdir / f"{name}.log"

    @property
    def url(self) -> str:
        if self.backend == "postgres":
            return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.name}"
        return f"mysql+pymysql://root@127.0.0.1:3306/{self.name}?charset=utf8"

    def _client(self, db: str | None, extra: list[str]) -> list[str]:
        if self.backend == "postgres":
            return PG + ["-d", db or "postgres"] + extra
        return MY + extra + ([db] if db else [])

    def _run(self, db: str | None, extra: list[str], what: str, timeout: float = 120) -> str:
        cmd = self._client(db, extra)
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError as e:
            raise BenchError(f"{what}: the {cmd[0]} client is not installed") from e
        except subprocess.TimeoutExpired as e:
            raise BenchError(f"{what}: {cmd[0]} did not finish within {timeout:.0f} s") from e
        if p.returncode != 0:
            raise BenchError(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n  {p.stderr.strip()}")
        return p.stdout

    def admin(self, sql: str, what: str, timeout: float = 120) -> str:
        return self._run(None, ["-c" if self.backend == "postgres" else "-e", sql], what, timeout)

    def create(self) -> None:
        self.admin(f"CREATE DATABASE {self.name}", f"creating the {self.backend} database {self.name}")

    def drop(self) -> None:
        force = " WITH (FORCE)" if self.backend == "postgres" else ""
        self.admin(f"DROP DATABASE IF EXISTS {self.name}{force}", f"dropping {self.name}", timeout=120)

    def query(self, sql: str) -> list[tuple[str, ...]]:
        if self.backend == "postgres":
            out = self._run(self.name, ["-A", "-t", "-F", "\t", "-c", sql], f"query on {self.name}")
        else:
            out = self._run(self.name, ["-N", "-B", "-e", sql], f"query on {self.name}")
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def image_count(self) -> int:
        return int(self.query("SELECT count(*) FROM images WHERE NOT deleted")[0][0])

    def server_version(self) -> str:
        sql = "SHOW server_version" if self.backend == "postgres" else "SELECT version()"
        return self.query(sql)[0][0]

    def load(self, n: int) -> None:
        """The rows of image_rows() for 0..n, then ANALYZE (what autovacuum or
        InnoDB's automatic statistics would do soon anyway, done at once so the
        planner sees the same statistics on every run)."""
        if self.backend == "postgres":
            cmd, script = self._client(self.name, []), self._pg_script(n)
        else:
            cmd, script = self._client(self.name, []), self._my_script(n)
        with open(self.logfile, "ab") as out:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
            except FileNotFoundError as e:
                raise BenchError(f"loading {self.name}: the {cmd[0]} client is not installed") from e
            try:
                try:
                    for piece in script:
                        proc.stdin.write(piece.encode())
                    proc.stdin.close()
                except BrokenPipeError:
                    pass  # the client stopped on an error: its exit code and log say which
                rc = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if rc != 0:
            raise BenchError(f"loading {n} images into {self.name} failed ({cmd[0]} exit {rc})\n"
                             f"  last lines of {self.logfile}:\n{tail(self.logfile, 15)}")

    def _pg_script(self, n: int):
        yield "BEGIN;\n"
        for table, cols in TABLES:
            yield f"COPY {table} ({cols}) FROM STDIN;\n"
            idx = [t for t, _ in TABLES].index(table)
            for rows in chunks(n):
                yield "".join("\t".join(map(_pg_text, r)) + "\n" for r in rows[idx])
            yield "\\.\n"
        yield "COMMIT;\nANALYZE images;\nANALYZE image_properties;\nANALYZE image_tags;\n"

    def _my_script(self, n: int):
        yield "SET autocommit = 0;\n"
        for rows in chunks(n, by_id=True):
            for (table, cols), data in zip(TABLES, rows):
                for k in range(0, len(data), MY_ROWS_PER_INSERT):
                    values = ",".join("(" + ",".join(map(_my_literal, r)) + ")" for r in data[k:k + MY_ROWS_PER_INSERT])
                    yield f"INSERT INTO {table} ({cols}) VALUES {values};\n"
            yield "COMMIT;\n"
        yield "ANALYZE TABLE images, image_properties, image_tags;\n"


class Databases:
    """The scratch databases of one benchmark run, dropped on the way out
    (also after an error, Ctrl-C, SIGTERM or SIGHUP). Enter it *outside* the
    block that stops the servers, so the servers are gone before the drop."""

    def __init__(self, backend: str, prefix: str, logdir: Path):
        self.backend = backend
        self.prefix = f"{prefix}_{os.getpid()}"
        self.logdir = logdir
        self.made: list[ServerDb] = []

    def describe(self) -> str:
        if self.backend == "sqlite":
            return "SQLite"
        host = "127.0.0.1:5432" if self.backend == "postgres" else "127.0.0.1:3306"
        return f"{self.product()} {self.version} at {host}"

    def product(self) -> str:
        if self.backend == "postgres":
            return "PostgreSQL"
        return "MariaDB" if "mariadb" in self.version.lower() else "MySQL"

    def create(self, side: str) -> ServerDb:
        db = ServerDb(self.backend, f"{self.prefix}_{side}", self.logdir)
        db.create()
        self.made.append(db)
        log(f"created the {self.backend} database {db.name}")
        return db

    @property
    def version(self) -> str:
        if not hasattr(self, "_version"):
            self._version = ServerDb(self.backend, "postgres" if self.backend == "postgres" else "mysql",
                                     self.logdir).server_version()
        return self._version

    def __enter__(self) -> "Databases":
        return self

    def __exit__(self, *exc) -> None:
        # A second Ctrl-C must not leave a database behind.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for db in reversed(self.made):
                try:
                    db.drop()
                    log(f"dropped {db.name}")
                except BenchError as e:
                    log(f"ERROR: could not drop {db.name}; drop it by hand: {e}")
            self.made.clear()
        finally:
            signal.signal(signal.SIGINT, old)


def venv_has(python: Path, module: str) -> bool:
    return subprocess.call([str(python), "-c", f"import {module}"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) == 0


def server_reachable(backend: str) -> None:
    """Fail early, with a clear message, if the server or its client is missing."""
    with contextlib.suppress(BenchError):
        ServerDb(backend, "postgres" if backend == "postgres" else "mysql", Path("/tmp")).server_version()
        return
    where = "PostgreSQL on 127.0.0.1:5432 (user postgres, trust)" if backend == "postgres" \
        else "MariaDB/MySQL on 127.0.0.1:3306 (root, no password)"
    client = "psql" if backend == "postgres" else "mysql"
    raise BenchError(f"--db {backend} needs {where} and the {client} client")
