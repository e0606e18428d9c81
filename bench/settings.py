"""make bench's settings (environment), its targets, and how it prints."""

from __future__ import annotations

import os
import subprocess

from dev.embedded import ROOT

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
DELAY_MS = int(os.environ.get("BENCH_DELAY_MS", "300"))
DELAY_CLIENTS = int(os.environ.get("BENCH_DELAY_CLIENTS", "256"))
SKIP = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
PROFILE = os.environ.get("BENCH_PROFILE", "1") not in ("", "0")  # py-spy over the VM (non-blocking)
STRIPE_MODE = os.environ.get("BENCH_STRIPE", "lean")
# Threads per app instance for the delayed phase (0: the VM's own setting, vm_runtime/serve.py).
DELAY_THREADS = [int(t) for t in os.environ.get("BENCH_DELAY_THREADS", "0").split(",") if t]
# Rounds of the VM phase, this tree's and the before tree's taking turns (each BENCH_SECONDS long).
VM_ROUNDS = max(1, int(os.environ.get("BENCH_VM_ROUNDS", "3")))
# "before": where this branch left main (main itself may since have migrations this tree's database lacks).
BEFORE_REF = os.environ.get("BENCH_BEFORE_REF") or subprocess.run(
    ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], capture_output=True, text=True).stdout.strip()[:12] or "main"
TARGET_RATIO, TARGET_DELAYED, TARGET_IMPORT = 0.3, 150.0, {"return": 120.0, "borrow": 200.0}
TARGET_CPU = {"one VM (nginx + 2 granian instances)": 3.0, "plain handler path (threads, no HTTP)": 2.0}
TARGET_DELAYED_CPU, TARGET_IN_FLIGHT, TARGET_TAIL = 2.5, 256, 3.0
# Cold start, imports + first request, per handler: what that request is.
FIRST_REQUESTS = {"borrow": ("POST", "/books/{book}/borrow"), "return": ("POST", "/books/{book}/return"),
                  "catalogue": ("GET", "/books"), "health": ("GET", "/health")}



def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def say(text: str = "") -> None:
    print(text, flush=True)
