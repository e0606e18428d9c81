"""Instructions per borrow -> return cycle, counted by callgrind: a figure the machine's load cannot move.

The wall-clock figures of a shared 2-core machine move by ±20 % from one phase to the next (the Stripe
stand-in and PostgreSQL share the cores), more than most single changes save. callgrind counts the
instructions the service's own process executes, whatever else runs. One client, in process (the
plain handler path: each request built, served and its body encoded; PostgreSQL and the stand-in run
outside and are not counted, nor is the kernel's share of each round trip). Instrumentation is
switched on only while the client runs `n` cycles (callgrind_control), for n = 20 and n = 60, and
(I60 - I20) / 40 leaves start-up, imports and warm-up out.

The parent (`per_cycle`) runs, under valgrind, for each tree:
    python -m bench.instructions TREE CONFIG.json
which warms up, writes "ready" on stderr, then runs the cycles it is asked for on stdin ("20"),
writing "done" after each batch. CONFIG holds env, books and tokens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from bench.statements import use_tree

RUNS = (20, 60)


def available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def _wait_for(stream: IO[str], word: str) -> None:
    for line in stream:
        if line.startswith(word):
            return
    raise RuntimeError(f"the instructions child ended before it said {word!r}")


def _counted(tree: Path, config: Path, cycles: int, out: Path, log: IO[bytes]) -> int:
    """Instructions executed while the child in `tree` ran `cycles` cycles (callgrind's totals)."""
    child = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         f"--log-file={out}.valgrind.log", sys.executable, "-m", "bench.instructions", str(tree), str(config)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=log, text=True,
        cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "PYTHONHASHSEED": "0"})  # same dict layouts each run
    assert child.stdin is not None and child.stderr is not None
    try:
        _wait_for(child.stderr, "ready")
        subprocess.run(["callgrind_control", "-i", "on", str(child.pid)], capture_output=True, check=True, timeout=60)
        child.stdin.write(f"{cycles}\n")
        child.stdin.flush()
        _wait_for(child.stderr, "done")
        subprocess.run(["callgrind_control", "-i", "off", str(child.pid)], capture_output=True, check=True, timeout=60)
        child.stdin.close()
        child.wait(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
    totals = [line for line in out.read_text().splitlines() if line.startswith("totals:")]
    return int(totals[-1].split()[1])


def per_cycle(tree: Path, env: dict[str, str], book: str, token: str, work: Path, tag: str) -> float:
    """Instructions per borrow -> return cycle of the service in `tree` (raises if it cannot count)."""
    config = work / f"instructions-{tag}.json"
    config.write_text(json.dumps({"env": env, "book": book, "token": token}))
    with open(work / f"instructions-{tag}.log", "ab") as log:
        counts = [_counted(tree, config, n, work / f"callgrind-{tag}-{n}.out", log) for n in RUNS]
    return (counts[1] - counts[0]) / (RUNS[1] - RUNS[0])


def main() -> None:
    tree, config = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
    use_tree(tree)
    os.environ.update(config["env"])
    from lending_http.messages import Request
    from lending_http.service import Service

    service = Service.of(tree / "functions", only=["borrow", "return"]).load()
    book, token = config["book"], config["token"]
    borrow_body = json.dumps({"payment_method": "pm_card_visa"}).encode()

    def call(action: str, body: bytes, expected: int) -> None:
        request = Request.build(method="POST", path=f"/books/{book}/{action}", path_params={"book_id": book},
                                headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
                                body=body)
        response: Any = service.serve(action, request)
        response.encoded()
        if response.status != expected:
            raise SystemExit(f"{action} answered {response.status}")

    def cycles(n: int) -> None:
        for _ in range(n):
            call("borrow", borrow_body, 201)
            call("return", b"", 200)

    cycles(10)  # connections, prepared statements, keys, caches
    print("ready", file=sys.stderr, flush=True)
    for line in sys.stdin:
        cycles(int(line))
        print("done", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
