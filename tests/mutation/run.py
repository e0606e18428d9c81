"""`make mutate`: cosmic-ray over the guarded modules (tests/mutation/targets.toml), each against its
own tests, in a scratch copy of the tree (the working tree is never mutated).

    python -m tests.mutation.run [--jobs N] [MODULE ...]   # names from targets.toml; none: all of them

Prints each module's score and its surviving mutants; exits 1 when a survivor is not explained in
tests/mutation/survivors.toml. Sessions live in .run/mutation/<module>.sqlite and are resumed when
neither the module nor its tests changed. PostgreSQL: TEST_DATABASE_URL, else one embedded server
for the whole run. See docs/testing.md#mutation-testing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

from tests.mutation.select import Survivor, compare, left_out, load_baseline, mutated_line

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SESSIONS = ROOT / ".run" / "mutation"
SUPPORT = ["tests/conftest.py", "tests/support", "tests/mutation/select.py"]


def targets() -> dict[str, dict[str, Any]]:
    return dict(tomllib.loads((HERE / "targets.toml").read_text())["modules"])


def scratch_copy(into: Path) -> Path:
    """The tree as it is now (tracked and untracked, not ignored files), compiled once."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, into / name)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "1", str(into / "layers"), str(into / "tests")],
                   check=False, capture_output=True)
    return into


def fingerprint(target: dict[str, Any]) -> str:
    h = hashlib.sha256(repr(sorted(target.items())).encode())
    for name in [target["path"], *target["tests"], *SUPPORT]:
        for p in sorted((ROOT / name).rglob("*.py")) if (ROOT / name).is_dir() else [ROOT / name]:
            h.update(p.read_bytes())
    return h.hexdigest()


def test_command(target: dict[str, Any]) -> str:
    return shlex.join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--timeout", "120",
                       *target.get("pytest", []), *target["tests"]])


def write_config(copy: Path, name: str, target: dict[str, Any], timeout: float) -> Path:
    config = copy / ".mutation" / f"{name}.toml"
    config.parent.mkdir(exist_ok=True)
    config.write_text("[cosmic-ray]\n"
                      f"module-path = {str(copy / target['path'])!r}\n"
                      f"timeout = {timeout:.1f}\nexcluded-modules = []\n"
                      f"test-command = {test_command(target)!r}\n"
                      '[cosmic-ray.distributor]\nname = "local"\n')
    return config


def baseline_seconds(copy: Path, target: dict[str, Any], env: dict[str, str]) -> float:
    started = time.monotonic()
    run = subprocess.run(shlex.split(test_command(target)), cwd=copy, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"{target['path']}: its tests fail without any mutation:\n{run.stdout[-3000:]}{run.stderr[-2000:]}")
    return time.monotonic() - started


def leave_out(session: Path, source: str, functions: list[str] | None) -> int:
    left = 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in db.pending_work_items:
            m = item.mutations[0]
            why = left_out(source, m.operator_name, m.start_pos[0], m.start_pos[1], functions)
            if why:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=why))
                left += 1
    return left


def mutate(name: str, target: dict[str, Any], copy: Path, env: dict[str, str]) -> list[Survivor]:
    SESSIONS.mkdir(parents=True, exist_ok=True)
    session, stamp = SESSIONS / f"{name}.sqlite", SESSIONS / f"{name}.fingerprint"
    seconds = baseline_seconds(copy, target, env)
    config = write_config(copy, name, target, timeout=max(60.0, 5 * seconds))
    source = (ROOT / target["path"]).read_text()
    cr = [sys.executable, "-m", "cosmic_ray.cli"]
    if not (session.is_file() and stamp.is_file() and stamp.read_text() == fingerprint(target)):
        session.unlink(missing_ok=True)
        subprocess.run([*cr, "init", str(config), str(session)], cwd=copy, env=env, check=True)
        left = leave_out(session, source, target.get("functions"))
        stamp.write_text(fingerprint(target))
        print(f"{name}: {left} mutants left out (tests/mutation/select.py)")
    with use_db(str(session), WorkDB.Mode.open) as db:
        pending = len(db.pending_work_items)
    print(f"{name}: {pending} mutants to run, tests take {seconds:.1f} s unmutated: {test_command(target)}", flush=True)
    subprocess.run([*cr, "exec", str(config), str(session)], cwd=copy, env=env, check=True)
    return report(name, target, session, source)


def report(name: str, target: dict[str, Any], session: Path, source: str) -> list[Survivor]:
    lines = source.splitlines()
    with use_db(str(session), WorkDB.Mode.open) as db:
        done = [(i, r) for i, r in db.completed_work_items if r.worker_outcome != WorkerOutcome.SKIPPED]
    survivors = [Survivor(target["path"], i.mutations[0].operator_name, lines[i.mutations[0].start_pos[0] - 1].strip(),
                          i.mutations[0].start_pos[0], r.diff or "", mutated_line(r.diff or ""))
                 for i, r in done if r.test_outcome == TestOutcome.SURVIVED]
    score = 100.0 * (len(done) - len(survivors)) / len(done) if done else 100.0
    print(f"{name}: score {score:.1f}% ({len(done) - len(survivors)} of {len(done)} mutants killed, "
          f"{len(survivors)} survived)")
    return survivors


@contextmanager
def database_server() -> Iterator[str]:
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    from dev.embedded_postgres import start_postgres

    with tempfile.TemporaryDirectory(prefix="mutate-pg-") as where:
        service = start_postgres(Path(where))
        try:
            yield service.url
        finally:
            service.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"of {', '.join(targets())} (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="modules mutated at once, each in its own copy (default 1)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the scratch copies and the server go too
    chosen = {n: t for n, t in targets().items() if not args.modules or n in args.modules}
    if unknown := set(args.modules) - set(chosen):
        parser.error(f"not in tests/mutation/targets.toml: {sorted(unknown)}")
    baseline = load_baseline(HERE / "survivors.toml")
    survivors: list[Survivor] = []
    names = list(chosen)
    jobs = max(1, min(args.jobs, len(names)))
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp, database_server() as server:

        def worker(index: int) -> list[Survivor]:
            copy = scratch_copy(Path(tmp) / str(index))  # a module's mutant must not reach another's tests
            paths = [str(copy), *(str(p) for p in sorted((copy / "layers").glob("*/python")))]
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "TEST_DATABASE_URL": server}
            return [s for name in names[index::jobs] for s in mutate(name, chosen[name], copy, env)]

        with ThreadPoolExecutor(jobs) as pool:
            for found in pool.map(worker, range(jobs)):
                survivors += found
    new, gone = compare(survivors, baseline, {t["path"] for t in chosen.values()})
    for s in survivors:
        mark = "NEW " if s in new else "known"
        print(f"  {mark} {s.module}:{s.lineno} {s.operator}: {s.line}")
    for e in gone:
        print(f"  no longer survives (take it out of tests/mutation/survivors.toml): {e.module} {e.operator}: {e.line}")
    for s in new:
        print(f"\n--- {s.module}:{s.lineno} {s.operator}\n{s.diff}")
    if new:
        print(f"\n{len(new)} surviving mutants are neither killed nor explained in tests/mutation/survivors.toml")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
