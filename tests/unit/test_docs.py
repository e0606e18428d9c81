"""The documentation holds together: a short README, one file per topic under docs/, and every
relative link (and `#anchor`) in them pointing at something that exists. Reads files only."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
TOPICS = ["README.md", "architecture.md", "data-and-races.md", "circulation.md", "money-safety.md", "identity.md", "web-ui.md",
          "vm-runtime.md", "deploying.md", "infrastructure.md", "api-and-observability.md", "benchmarks.md",
          "settings.md", "testing.md", "jobs.md"]
MAX_README_LINES = 200

# [text](target) and ![alt](target), the target up to whitespace or ")"; an optional "title" after it.
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def linted() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md")), ROOT / "vm_runtime" / "README.md"]


def prose(path: Path) -> list[str]:
    """The file's lines outside fenced code blocks (links and headings there are not markdown)."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces -> '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").replace("*", "").replace("~", "")
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w keeps letters and digits of any script, and "_"
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose(path):
        m = HEADING.match(line)
        if not m:
            continue
        base = anchor(m.group(2))
        n = seen.get(base, 0)
        found.add(base if n == 0 else f"{base}-{n}")  # GitHub numbers repeated headings
        seen[base] = n + 1
    return found


def links(path: Path) -> list[str]:
    out = []
    for line in prose(path):
        line = re.sub(r"`[^`]*`", "", line)  # inline code is not a link
        out += LINK.findall(line)
    return out


def relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) and not target.startswith("//")


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines (at most {MAX_README_LINES})"


@pytest.mark.parametrize("name", TOPICS)
def test_each_topic_has_its_file(name: str) -> None:
    assert (DOCS / name).is_file(), f"docs/{name} is missing"


@pytest.mark.parametrize("path", linted(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for target in links(path):
        if not relative(target):
            continue
        file_part, _, fragment = target.partition("#")
        dest = path if not file_part else (path.parent / unquote(file_part)).resolve()
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and unquote(fragment).lower() not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor in {dest.relative_to(ROOT)}")
    assert broken == [], f"{path.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_link_checker_sees_links_and_anchors(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Tests (`tests/vm/`)\n\n## Reads from the replica\n\n## Two\n\n## Two\n\n"
                    "See [a](other.md#x) and ![b](img.png \"t\").\n\n```\n[not](a-link.md)\n```\n`[nor](this.md)`\n")
    assert anchors(page) == {"tests-testsvm", "reads-from-the-replica", "two", "two-1"}
    assert links(page) == ["other.md#x", "img.png"]
    assert not relative("https://example.org/x.md") and relative("../vm_runtime/README.md")
