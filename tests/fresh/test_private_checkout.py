"""The embedded PostgreSQL for a checkout in a private directory (mode 0700, like /root), run as root.

PostgreSQL runs as the `pgserver` user there, which cannot enter such a directory: its binaries and
data must live in places made for them, and no directory's mode may be changed to let it in.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pg8000.native
import pytest

from dev.embedded import ROOT
from dev.embedded_postgres import start_postgres
from tests.support.skips import unavailable


def _modes(paths: list[Path]) -> dict[Path, int]:
    return {path: os.stat(path).st_mode for path in paths}


def _ancestors(path: Path) -> list[Path]:
    return [parent for parent in path.parents if parent.exists()]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A directory only its owner may enter, made as mkdtemp makes it (0700), like /root."""
    path = Path(tempfile.mkdtemp(prefix="lending-private-"))
    assert os.stat(path).st_mode & 0o777 == 0o700
    yield path
    shutil.rmtree(path)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A fresh, world-readable stand-in for /var: where the binary cache and data base are made."""
    path = Path(tempfile.mkdtemp(prefix="lending-var-"))
    os.chmod(path, 0o755)  # ours
    yield path
    shutil.rmtree(path)


def test_postgres_for_a_data_dir_inside_a_private_dir_starts_answers_and_changes_no_directory_mode(
        private_dir: Path, open_dir: Path) -> None:
    data_dir = private_dir / "checkout" / ".run" / "postgres"
    cache, base = open_dir / "cache" / "library-lending", open_dir / "lib" / "library-lending"
    watched = _ancestors(data_dir) + _ancestors(cache) + _ancestors(base)
    before = _modes(watched)

    service = start_postgres(data_dir, log=private_dir / "checkout" / ".run" / "postgres.log", bin_cache=cache,
                             state_base=base)
    try:
        connection = pg8000.native.Connection("postgres", host="127.0.0.1", port=_port(service.url))
        [[user, directory, answer]] = connection.run("SELECT current_user, current_setting('data_directory'), 6 * 7")
        connection.close()
    finally:
        service.stop()

    assert answer == 42 and user == "postgres"
    assert _modes(watched) == before
    if os.geteuid() == 0:  # the places made for pgserver
        pgserver = pwd.getpwnam("pgserver").pw_uid
        home = Path(directory).parent
        assert home.parent == base
        assert (os.stat(home).st_uid, os.stat(home).st_mode & 0o777) == (pgserver, 0o700)
        for made in (base, cache, *cache.glob("postgres-*")):
            assert (os.stat(made).st_uid, os.stat(made).st_mode & 0o777) == (0, 0o755), made
        assert (data_dir / "pgdata").resolve() == Path(directory)
        assert "database system is shut down" in (data_dir.parent / "postgres.log").read_text()
    else:
        assert Path(directory) == data_dir / "pgdata"


def test_the_data_of_a_removed_data_dir_goes_at_the_next_start(private_dir: Path, open_dir: Path) -> None:
    if os.geteuid() != 0:
        unavailable("only root keeps PostgreSQL's data apart from the data directory")
    base, cache = open_dir / "lib", open_dir / "cache"
    first = start_postgres(private_dir / "first", bin_cache=cache, state_base=base)
    first.stop()
    [home] = list(base.iterdir())
    shutil.rmtree(private_dir / "first")

    second = start_postgres(private_dir / "second", bin_cache=cache, state_base=base)
    second.stop()

    assert not home.exists()
    assert [h.name for h in base.iterdir()] == [(private_dir / "second" / "pgdata").resolve().parent.name]


@pytest.mark.slow
def test_a_clone_in_a_private_directory_starts_its_embedded_postgres_and_answers(private_dir: Path) -> None:
    clone = private_dir / "library-lending"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(clone)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head], check=True, timeout=60)
    script = (
        "import json; from pathlib import Path; import pg8000.native; import dev.embedded_postgres as e\n"
        "s = e.start_postgres(Path('.run/postgres'), log=Path('.run/postgres.log'))\n"
        "try:\n"
        "    c = pg8000.native.Connection('postgres', host='127.0.0.1', port=int(s.url.rsplit(':', 1)[1].split('/')[0]))\n"
        "    answer = c.run('SELECT 6 * 7'); c.close()\n"
        "finally:\n"
        "    s.stop()\n"
        "print(json.dumps({'module': e.__file__, 'answer': answer}))\n")
    before = _modes(_ancestors(clone / ".run"))

    # The suite's own interpreter (a fresh .venv would take minutes) on the clone's code.
    run = subprocess.run([sys.executable, "-c", script], cwd=clone, env={**os.environ, "PYTHONPATH": str(clone)},
                         capture_output=True, text=True, timeout=180, check=False)

    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result == {"module": str(clone / "dev" / "embedded_postgres.py"), "answer": [[42]]}
    assert _modes(_ancestors(clone / ".run")) == before
    assert os.stat(private_dir).st_mode & 0o777 == 0o700
