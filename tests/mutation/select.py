"""Which of cosmic-ray's mutants `make mutate` runs, and which survivors the baseline explains.

Pure functions on source text and the baseline file, so tests/unit can check them without
cosmic-ray installed.

Left out, everywhere:
- mutants inside annotations: every target module has `from __future__ import annotations`, so
  an annotation is never evaluated and `str | None` -> `str & None` is equivalent by construction;
- all but one or two replacements of each operator (KEPT): cosmic-ray replaces a binary operator by
  each of the eleven others and a comparison by each of the seven others, most of them telling
  nothing the kept one does not (as mutmut's set: `+` -> `-`, `|` -> `&`, `==` -> `!=`, `is` ->
  `is not`; an ordering by its boundary and its negation, `<` -> `<=` and `>=`); all of them would
  triple the run;
- `*` -> `/` on the bare `*` of keyword-only parameters: cosmic-ray takes it for a multiplication,
  and every caller passes those parameters by keyword, so the `/` it makes changes nothing;
- with `functions` in tests/mutation/targets.toml, everything outside those functions.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

KEPT = {  # operator -> the replacements run
    "Add": {"Sub"}, "Sub": {"Add"}, "Mul": {"Div"}, "Div": {"Mul"}, "FloorDiv": {"Div"}, "Mod": {"Div"}, "Pow": {"Mul"},
    "LShift": {"RShift"}, "RShift": {"LShift"}, "BitOr": {"BitAnd"}, "BitAnd": {"BitOr"}, "BitXor": {"BitAnd"},
    "Eq": {"NotEq"}, "NotEq": {"Eq"}, "Is": {"IsNot"}, "IsNot": {"Is"},
    "Lt": {"LtE", "GtE"}, "LtE": {"Lt", "Gt"}, "Gt": {"GtE", "LtE"}, "GtE": {"Gt", "Lt"},
}
REPLACEMENT = re.compile(r"core/Replace(?:Binary|Comparison)Operator_([A-Za-z]+)_([A-Za-z]+)$")

Span = tuple[int, int, int, int]  # first line, first column, last line, end column (lines from 1, columns from 0)


def _inside(span: Span, line: int, col: int) -> bool:
    first, first_col, last, end_col = span
    return (first, first_col) <= (line, col) < (last, end_col)


def annotation_spans(source: str) -> list[Span]:
    spans: list[Span] = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            found = [node.returns, *(x.annotation for x in [*a.posonlyargs, *a.args, *a.kwonlyargs]),
                     a.vararg and a.vararg.annotation, a.kwarg and a.kwarg.annotation]
        elif isinstance(node, ast.AnnAssign):
            found = [node.annotation]
        spans += [(e.lineno, e.col_offset, e.end_lineno or e.lineno, e.end_col_offset or 0) for e in found if e is not None]
    return spans


def function_spans(source: str, names: list[str]) -> list[Span]:
    return [(n.lineno, 0, (n.end_lineno or n.lineno) + 1, 0) for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in names]


def left_out(source: str, operator: str, line: int, col: int, functions: list[str] | None = None) -> str | None:
    """Why the mutant at (line, col) is not run, or None when it is."""
    replaced = REPLACEMENT.match(operator)
    if replaced and replaced[2] not in KEPT.get(replaced[1], set()):
        return "replacement left out"
    text = source.splitlines()[line - 1] if 0 < line <= len(source.splitlines()) else ""
    if operator.startswith("core/ReplaceBinaryOperator_Mul_") and text[col:col + 1] == "*" \
            and text[col + 1:].lstrip().startswith((",", ")")):
        return "the bare * of keyword-only parameters"
    if any(_inside(s, line, col) for s in annotation_spans(source)):
        return "annotation (never evaluated)"
    if functions and not any(_inside(s, line, col) for s in function_spans(source, functions)):
        return "outside the targeted functions"
    return None


@dataclass(frozen=True)
class Survivor:
    module: str  # path from the repository root
    operator: str  # cosmic-ray's name, e.g. core/ReplaceComparisonOperator_Eq_NotEq
    line: str  # the source line mutated, stripped: stable across edits elsewhere in the module
    lineno: int = 0
    diff: str = ""
    mutant: str = ""  # the line as mutated, stripped

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.module, self.operator, self.line)


def mutated_line(diff: str) -> str:
    return next((x[1:].strip() for x in diff.splitlines() if x.startswith("+") and not x.startswith("+++")), "")


@dataclass(frozen=True)
class Explained:
    module: str
    operator: str
    line: str
    why: str
    mutant: str = ""  # when given, only the mutant that makes the line this (several may share a line)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.module, self.operator, self.line)

    def explains(self, s: Survivor) -> bool:
        return self.key == s.key and (not self.mutant or self.mutant == s.mutant)


def load_baseline(path: Path) -> list[Explained]:
    if not path.is_file():
        return []
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("survivor", [])
    explained = [Explained(e["module"], e["operator"], e["line"], e.get("why", "").strip(), e.get("mutant", ""))
                 for e in entries]
    unexplained = [e for e in explained if not e.why]
    if unexplained:
        raise ValueError(f"{path}: every survivor needs a `why`: {[e.key for e in unexplained]}")
    return explained


def compare(survivors: list[Survivor], baseline: list[Explained], modules: set[str]) -> tuple[list[Survivor], list[Explained]]:
    """(survivors not in the baseline, baseline entries for these modules that no longer survive)."""
    new = [s for s in survivors if not any(e.explains(s) for e in baseline)]
    gone = [e for e in baseline if e.module in modules and not any(e.explains(s) for s in survivors)]
    return new, gone
