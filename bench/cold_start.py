"""Cold start: import time of each handler with only its declared layers on the path.

A fresh `python -S` process per measurement, like tests/unit/test_import_rules.py:
the repository root, the handler's layers, then the vendor libraries.
"""

from __future__ import annotations

import json
import site
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import importlib, json, sys, time
root, layers, module, vendor = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
sys.path[:0] = [root] + layers
sys.path.extend(vendor)
t = time.perf_counter()
importlib.import_module(module)
print((time.perf_counter() - t) * 1000)
"""


def handlers() -> dict[str, list[str]]:
    return {p.parent.name: json.loads(p.read_text())["layers"] for p in sorted((ROOT / "functions").glob("*/function.json"))}


def import_ms(function: str, layers: list[str], runs: int = 5, extra: list[str] | None = None) -> float:
    paths = [str(ROOT / "layers" / name / "python") for name in layers]
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-S", *(extra or []), "-c", PROBE, str(ROOT), json.dumps(paths),
                              f"functions.{function}.handler", json.dumps(site.getsitepackages())],
                             capture_output=True, text=True, timeout=60, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def all_handlers(runs: int = 5) -> dict[str, float]:
    return {name: import_ms(name, layers, runs) for name, layers in handlers().items()}


if __name__ == "__main__":
    for name, ms in all_handlers().items():
        print(f"{name:15} {ms:6.1f} ms")
