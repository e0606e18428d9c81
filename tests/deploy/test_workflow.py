"""The CI/CD workflow: actionlint (with shellcheck on every run block) clean, and able to fail;
deploys only from the default branch, after the tests; builds without credentials; pushes and
deploys under the production environment with OIDC credentials (no stored keys, no installs with
them); every action pinned by commit sha."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from dev.embedded import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci-cd.yml"
ACTIONLINT = shutil.which("actionlint") or str(Path(sys.executable).with_name("actionlint"))


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ACTIONLINT, "-no-color", str(path)], capture_output=True, text=True, check=False)


def test_actionlint_and_shellcheck_pass_on_the_workflow_and_catch_a_broken_copy(tmp_path: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: .ci/apt-packages installs it (actionlint needs it for run blocks)")
    clean = actionlint(WORKFLOW)
    assert clean.returncode == 0 and not clean.stdout.strip(), clean.stdout
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace('run: make deploy-status DEPLOY_TARGET=aws',
                                                   'run: make deploy-status DEPLOY_TARGET=$TARGET ${{ vars.X.y.z() }}'))
    found = actionlint(broken)
    assert found.returncode != 0
    assert "SC2086" in found.stdout or "shellcheck" in found.stdout, found.stdout  # shellcheck ran on the run block


def default_branch() -> str:
    """The repository's default branch: GitHub's word for it in CI, else origin's HEAD, else the trunk
    this clone has (main before master), else the branch checked out."""
    event = os.environ.get("GITHUB_EVENT_PATH")
    if event and Path(event).is_file():
        branch = (json.loads(Path(event).read_text()).get("repository") or {}).get("default_branch")
        if branch:
            return str(branch)

    def git(*args: str) -> str:
        run = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
        return run.stdout.strip() if run.returncode == 0 else ""

    origin = git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
    if origin:
        return origin.removeprefix("refs/remotes/origin/")
    for trunk in ("main", "master"):
        if git("rev-parse", "--verify", "--quiet", f"refs/heads/{trunk}"):
            return trunk
    return git("branch", "--show-current") or "main"


def test_the_default_branch_alone_builds_pushes_and_deploys_after_the_tests() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text())
    branch = default_branch()
    assert flow[True]["push"]["branches"] == [branch]  # PyYAML reads the key `on` as True
    jobs = flow["jobs"]
    assert jobs["image"]["needs"] == "test" and jobs["push"]["needs"] == "image"
    assert set(jobs["deploy"]["needs"]) == {"image", "push"}
    assert jobs["image"]["if"] == f"github.event_name == 'push' && github.ref == 'refs/heads/{branch}'"


def test_mutation_testing_runs_nightly_and_on_demand_and_the_push_tests_do_not() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text())
    triggers, jobs = flow[True], flow["jobs"]
    assert triggers["schedule"] and "workflow_dispatch" in triggers
    assert jobs["mutate"]["if"] == "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'"
    assert [s["run"] for s in jobs["mutate"]["steps"] if "run" in s] == ["make mutate MUTATE_JOBS=2"]
    assert "environment" not in jobs["mutate"] and "needs" not in jobs["mutate"]  # no credentials, not before a deploy
    assert jobs["test"]["if"] == "github.event_name == 'push' || github.event_name == 'pull_request'"


def _uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).split("@")[0] == action


def test_only_jobs_under_the_production_environment_hold_credentials_and_none_installs_with_them() -> None:
    text = WORKFLOW.read_text()
    flow = yaml.safe_load(text)
    assert flow["permissions"] == {"contents": "read"}
    assert "secrets." not in text and "aws-access-key-id" not in text  # no stored keys
    credentialed = {name for name, job in flow["jobs"].items()
                    if any(_uses(s, "aws-actions/configure-aws-credentials") for s in job["steps"])}
    assert credentialed == {"push", "deploy"}
    for name, job in flow["jobs"].items():
        token = job.get("permissions", {}).get("id-token")
        if name not in credentialed:
            assert token is None, f"{name} can mint an OIDC token but needs no AWS access"
            continue
        assert job["environment"] == "production" and token == "write", name
        steps = job["steps"]
        first = next(i for i, s in enumerate(steps) if _uses(s, "aws-actions/configure-aws-credentials"))
        assert "role-to-assume" in steps[first]["with"]
        for step in steps[first + 1:]:
            assert "uses" not in step, f"{name}: an action runs with the credentials: {step['uses']}"
            assert not re.search(r"\b(pip|npm|apt-get|make venv|make image|setup\.py)\b", step["run"]), \
                f"{name}: installs or builds with the credentials: {step['run']}"
    push = flow["jobs"]["push"]
    assert not any(_uses(s, "actions/checkout") for s in push["steps"]), "push runs no project code"
    assert "podman push" in push["steps"][-1]["run"]
    build = flow["jobs"]["image"]
    assert "SAVE=" in build["steps"][-2]["run"] and _uses(build["steps"][-1], "actions/upload-artifact")


PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version_beside_it() -> None:
    lines = [line for line in WORKFLOW.read_text().splitlines() if re.match(r"^\s*-?\s*uses:", line)]
    assert len(lines) >= 5
    for line in lines:
        reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        assert PINNED.match(reference), f"not pinned by a 40-hex commit sha: {line.strip()}"
        assert re.search(r"#\s*v\d+(\.\d+)*\s*$", line), f"no `# vX` comment naming the version: {line.strip()}"
    assert not PINNED.match("actions/checkout@v5") and not PINNED.match("actions/checkout@fbc6f39")  # the rule can fail
