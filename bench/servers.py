"""The servers under test: `make run`'s chalice local, and one VM as `make vm-local` runs it."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import cpu
from dev.embedded import ROOT


@contextlib.contextmanager
def chalice_server(env: dict[str, str], log: Path) -> Iterator[tuple[str, cpu.Group]]:
    from tests.support.stack import ChaliceServer

    server = ChaliceServer(env, log)
    try:
        yield server.url, lambda: cpu.tree(server.proc.pid)
    finally:
        server.stop()


def vm_available() -> bool:
    try:
        import dev.vm_stack  # noqa: F401
    except ImportError:
        return False
    return shutil.which("nginx") is not None


@contextlib.contextmanager
def vm_server(env: dict[str, str], work: Path, tree: Path = ROOT) -> Iterator[tuple[str, cpu.Group]]:
    """HOOK: one VM as `make vm-local` runs it (dev.vm_stack.LocalVM: nginx + two app instances).

    With another `tree` (the "before" checkout), its instances run that tree's code: its root and
    layers come first on their path."""
    from dev.vm_stack import LocalVM

    if tree != ROOT:
        env = {**env, "PYTHONPATH": os.pathsep.join([str(tree), *(str(p) for p in sorted(tree.glob("layers/*/python")))])}
    vm = LocalVM(env, work, cwd=tree)
    vm.start()

    def group() -> list[Any]:
        procs = []
        for instance in vm.instances:
            if instance.proc is not None:
                procs += cpu.tree(instance.proc.pid)
        if vm.nginx is not None:
            procs += cpu.tree(vm.nginx.pid)
        return procs

    try:
        yield vm.url, group
    finally:
        vm.stop()
