"""A PostgreSQL primary and a streaming standby of our own (embedded binaries, loopback, trust auth).

Never touches the machine's cluster: both live in the test's temporary directory and are stopped
on every exit path.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dev.embedded import Service, free_port
from dev.embedded_postgres import _as_postgres_user, postgres_bin, postgres_home, start_postgres
from lending_postgres import ConnectionPool, migrate

SLOT = "lending_test_standby"


@dataclass
class Pair:
    primary: Service
    standby: Service
    primary_url: str  # the service's database on the primary
    standby_url: str  # the same database on the standby

    def stop(self) -> None:
        self.standby.stop()
        self.primary.stop()


def _owned_dir(path: Path, uid: int | None, gid: int | None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if uid is not None:
        os.chown(path, uid, gid or 0)
        os.chmod(path, 0o700)
    return path


def start_pair(base: Path, dbname: str = "lending") -> Pair:
    primary = start_postgres(base / "primary")
    try:
        admin = ConnectionPool(primary.url, size=1, statement_timeout_ms=0)
        with admin.connection() as c:
            c.run(f'CREATE DATABASE "{dbname}"')
        admin.close()
        primary_url = primary.url.rpartition("/")[0] + f"/{dbname}"
        pool = ConnectionPool(primary_url, size=1)
        migrate(pool)
        pool.close()
        standby = _start_standby(base / "standby", primary.url)
    except BaseException:
        primary.stop()
        raise
    return Pair(primary, standby, primary_url, standby.url.rpartition("/")[0] + f"/{dbname}")


def _start_standby(data_dir: Path, primary_url: str) -> Service:
    bindir = postgres_bin()
    prefix, uid, gid = _as_postgres_user()
    data_dir.mkdir(parents=True, exist_ok=True)
    # As root, the standby's files live where the embedded PostgreSQL keeps them (dev.embedded), which its
    # user can reach whatever the mode of our temp dir.
    home = data_dir if uid is None else postgres_home(data_dir, uid, gid or 0)
    sock = _owned_dir(home / "sock", uid, gid)
    pgdata = home / "pgdata"
    port = int(primary_url.split(":")[-1].split("/")[0])
    # -R writes primary_conninfo + standby.signal; -C -S creates a slot so the primary keeps our WAL.
    subprocess.run([*prefix, str(bindir / "pg_basebackup"), "-D", str(pgdata), "-R", "-X", "stream", "-C", "-S", SLOT,
                    "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "--no-sync", "--checkpoint=fast"],
                   check=True, capture_output=True, timeout=120)
    log = home / "postgres.log"
    log.touch()
    if uid is not None:
        os.chown(log, uid, gid or 0)
    standby_port = free_port()
    options = f"-h 127.0.0.1 -p {standby_port} -k {sock} -c fsync=off -c max_connections=200"
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-o", options, "-w", "-t", "60",
                    "start"], check=True, capture_output=True, timeout=90)
    stop = [*prefix, str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    return Service("standby", f"postgresql://postgres@127.0.0.1:{standby_port}/postgres", extra_stop=[stop])


def sql(url: str, query: str, **params: Any) -> list[list[Any]]:
    pool = ConnectionPool(url, size=1)
    try:
        with pool.connection() as c:
            return c.run(query, **params)
    finally:
        pool.close()
