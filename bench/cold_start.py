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
t, c = time.perf_counter(), time.process_time()
importlib.import_module(module)
print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)
"""


def handlers() -> dict[str, list[str]]:
    return {p.parent.name: json.loads(p.read_text())["layers"] for p in sorted((ROOT / "functions").glob("*/function.json"))}


def import_ms(function: str, layers: list[str], runs: int = 7) -> tuple[float, float, float]:
    """(fastest, median) wall milliseconds and the fastest CPU milliseconds of `runs` fresh imports.

    The machine is shared: the fastest run is the one least disturbed by other work.
    """
    paths = [str(ROOT / "layers" / name / "python") for name in layers]
    walls, cpus = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-S", "-c", PROBE, str(ROOT), json.dumps(paths),
                              f"functions.{function}.handler", json.dumps(site.getsitepackages())],
                             capture_output=True, text=True, timeout=60, check=True)
        wall, cpu = out.stdout.strip().splitlines()[-1].split()
        walls.append(float(wall))
        cpus.append(float(cpu))
    return min(walls), statistics.median(walls), min(cpus)


def all_handlers(runs: int = 7) -> dict[str, tuple[float, float, float]]:
    return {name: import_ms(name, layers, runs) for name, layers in handlers().items()}


if __name__ == "__main__":
    for name, (fastest, median, cpu) in all_handlers().items():
        print(f"{name:15} fastest {fastest:6.1f} ms, median {median:6.1f} ms, CPU {cpu:6.1f} ms")


FIRST_REQUEST = """
import time
t, c = time.perf_counter(), time.process_time()
import importlib, json, os, sys
root, layers, module = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
vendor, spec = json.loads(sys.argv[4]), json.loads(sys.argv[5])
sys.path[:0] = [root] + layers
sys.path.extend(vendor)
os.environ.update(spec["env"])
importlib.import_module(module)
imported = (time.perf_counter() - t) * 1000
from pathlib import Path
from lending_http.messages import Request
from lending_http.service import Service
service = Service.of(Path(root) / "functions", only=[spec["function"]])
request = Request.build(method=spec["method"], path=spec["path"], path_params=spec.get("path_params") or {},
                        headers=spec.get("headers") or {}, body=spec.get("body", "").encode())
response = service.serve(spec["function"], request)
print("COLD", imported, (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000, response.status)
"""


def first_request_ms(tree: Path, spec: dict[str, object]) -> tuple[float, float, float, int]:
    """A fresh `python -S` with only the handler's layers of `tree`: (imports, imports + first request,
    CPU of both) in ms, and the first request's status. No lazy import can hide: the request is served."""
    function = str(spec["function"])
    layers = json.loads((tree / "functions" / function / "function.json").read_text())["layers"]
    paths = [str(tree / "layers" / name / "python") for name in layers]
    out = subprocess.run([sys.executable, "-S", "-c", FIRST_REQUEST, str(tree), json.dumps(paths),
                          f"functions.{function}.handler", json.dumps(site.getsitepackages()), json.dumps(spec)],
                         capture_output=True, text=True, timeout=120, check=True)
    line = next(x for x in reversed(out.stdout.splitlines()) if x.startswith("COLD "))
    _, imported, total, cpu, status = line.split()
    return float(imported), float(total), float(cpu), int(status)
