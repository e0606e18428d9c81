"""The CI/CD workflow: actionlint (with shellcheck on every run block) clean, and able to fail;
deploys only from master, after the tests, with OIDC credentials and no stored AWS keys."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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


def test_master_only_deploys_after_tests_with_short_lived_credentials() -> None:
    text = WORKFLOW.read_text()
    flow = yaml.safe_load(text)
    jobs = flow["jobs"]
    assert jobs["image"]["needs"] == "test" and jobs["deploy"]["needs"] == "image"
    assert "refs/heads/master" in jobs["image"]["if"]
    for name in ("image", "deploy"):
        assert jobs[name]["permissions"]["id-token"] == "write"
        assume = [s for s in jobs[name]["steps"] if "configure-aws-credentials" in s.get("uses", "")]
        assert assume and "role-to-assume" in assume[0]["with"]
    assert "secrets." not in text and "aws-access-key-id" not in text  # no stored keys
    assert flow["permissions"] == {"contents": "read"}
