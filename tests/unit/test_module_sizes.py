"""No production module is over 300 lines (issue 13): a module that grows past it is split by
responsibility. Production: layers/, functions/, vm_runtime/, ops/, deploy/, infra/ and app.py.
Reads files only."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 300
PRODUCTION = ["layers", "functions", "vm_runtime", "ops", "deploy", "infra"]
# path -> why it may be longer for now; an entry goes when its module is split.
ALLOWED = {
}


def production_modules() -> list[Path]:
    found = [ROOT / "app.py"]
    for top in PRODUCTION:
        found += (p for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(found)


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_the_check_sees_the_production_modules() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in production_modules()}
    assert {"app.py", "deploy/steps.py", "infra/package.py", "ops/jobs.py", *ALLOWED} <= names


def test_no_production_module_is_over_300_lines() -> None:
    too_long = {path.relative_to(ROOT).as_posix(): lines(path) for path in production_modules()
                if lines(path) > MAX_LINES and path.relative_to(ROOT).as_posix() not in ALLOWED}
    assert not too_long, f"over {MAX_LINES} lines (split them by responsibility): {too_long}"


def test_the_allow_list_holds_only_modules_still_over_the_limit() -> None:
    for name in ALLOWED:
        path = ROOT / name
        assert path.is_file() and lines(path) > MAX_LINES, f"{name} is split or gone: take it off ALLOWED"
