"""`make mutate`'s choices (tests/mutation/select.py): which mutants run, and how a survivor is
matched to its explanation in the baseline. Source text only; cosmic-ray is not needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutation.select import Explained, Survivor, compare, left_out, load_baseline, mutated_line

SOURCE = '''from __future__ import annotations


def due(days: int | None, extra: int = 0) -> int | None:
    total: int | None = (days or 0) + extra
    return total if total == 0 else None


def other(x: int, *, y: int = 2 * 3) -> int:
    return x - 1
'''


def test_a_mutant_in_an_annotation_is_left_out_and_one_in_the_code_runs() -> None:
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_BitOr_BitAnd", 4, 20) == "annotation (never evaluated)"
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_BitOr_BitAnd", 4, 51) == "annotation (never evaluated)"
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_BitOr_BitAnd", 5, 15) == "annotation (never evaluated)"
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_Add_Sub", 5, 34) is None


def test_each_operator_keeps_only_its_chosen_replacements() -> None:
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_Add_Sub", 5, 34) is None
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_Add_Pow", 5, 34) == "replacement left out"
    assert left_out(SOURCE, "core/ReplaceComparisonOperator_Eq_NotEq", 6, 22) is None
    assert left_out(SOURCE, "core/ReplaceComparisonOperator_Eq_Lt", 6, 22) == "replacement left out"
    assert left_out(SOURCE, "core/NumberReplacer", 6, 25) is None


def test_the_bare_star_of_keyword_only_parameters_is_no_multiplication_but_a_product_is() -> None:
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_Mul_Div", 9, 18) == "the bare * of keyword-only parameters"
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_Mul_Div", 9, 32) is None


def test_functions_narrow_a_module_to_those_functions() -> None:
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_Sub_Add", 10, 13, ["due"]) == "outside the targeted functions"
    assert left_out(SOURCE, "core/ReplaceBinaryOperator_Sub_Add", 10, 13, ["other"]) is None


def test_a_survivor_is_known_by_module_operator_and_line_and_stale_explanations_are_reported() -> None:
    old = Survivor("m.py", "core/AddNot", "if x:", 3)
    moved = Survivor("m.py", "core/AddNot", "if x:", 30)  # the same mutant after an edit above it
    new = Survivor("m.py", "core/AddNot", "if y:", 4)
    baseline = [Explained("m.py", "core/AddNot", "if x:", "why"), Explained("m.py", "core/AddNot", "if z:", "why"),
                Explained("n.py", "core/AddNot", "if z:", "why")]
    assert compare([moved, new], baseline, {"m.py"}) == ([new], [baseline[1]])
    assert compare([old], baseline, {"m.py", "n.py"}) == ([], baseline[1:])


def test_an_explanation_naming_its_mutant_explains_only_that_one_of_a_lines_mutants() -> None:
    equivalent = Survivor("m.py", "core/NumberReplacer", "b=rows[0][0])", 9, mutant="b=rows[0][ -1])")
    broken = Survivor("m.py", "core/NumberReplacer", "b=rows[0][0])", 9, mutant="b=rows[ 1][0])")
    baseline = [Explained("m.py", "core/NumberReplacer", "b=rows[0][0])", "one column", mutant="b=rows[0][ -1])")]
    assert compare([equivalent, broken], baseline, {"m.py"}) == ([broken], [])
    assert mutated_line("--- a/m.py\n+++ b/m.py\n@@ -9 +9 @@\n-b=rows[0][0])\n+    b=rows[0][ -1])\n") == "b=rows[0][ -1])"


def test_the_baseline_refuses_a_survivor_without_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "survivors.toml"
    path.write_text('[[survivor]]\nmodule = "m.py"\noperator = "core/AddNot"\nline = "if x:"\nwhy = "  "\n')
    with pytest.raises(ValueError, match="needs a `why`"):
        load_baseline(path)
    path.write_text('[[survivor]]\nmodule = "m.py"\noperator = "core/AddNot"\nline = "if x:"\nwhy = "equivalent"\n')
    assert load_baseline(path) == [Explained("m.py", "core/AddNot", "if x:", "equivalent")]


def test_the_committed_baseline_loads_and_names_only_targeted_modules() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2] / "tests" / "mutation"
    paths = {t["path"] for t in tomllib.loads((root / "targets.toml").read_text())["modules"].values()}
    assert all((root.parents[1] / p).is_file() for p in paths)
    assert {e.module for e in load_baseline(root / "survivors.toml")} <= paths
