"""The one command that starts an app instance: the container's ENTRYPOINT and the local runner's;
and the one that runs the scheduled jobs: lending-jobs.service's, in the image, and the local estate's."""

from __future__ import annotations

SERVE = ["python", "-m", "vm_runtime.serve"]

JOBS = ["python", "-m", "ops.jobs"]  # every due job once (docs/jobs.md)


def jobs_argv(python: str = "python") -> list[str]:
    return [python, *JOBS[1:]]


def bind_env(host: str, port: int) -> dict[str, str]:
    """The environment that puts an instance on a given address (the container binds 0.0.0.0:8000)."""
    return {"INSTANCE_BIND": f"{host}:{port}"}
