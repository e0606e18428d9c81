"""The layering is a checked contract, not a comment.

- The domain core imports nothing but the standard library and itself.
- A handler, loaded with only its declared layers on the path, imports no package of
  an undeclared layer and no vendor library that belongs to one (return never loads stripe).
"""

from __future__ import annotations

import ast
import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ROOT / "layers"
# Our package(s) and the vendor top-level modules each layer brings.
LAYER_MODULES = {
    "core": {"lending"},
    "database": {"lending_postgres", "pg8000"},
    "payments": {"lending_stripe", "stripe"},
    "auth": {"lending_oidc", "jose"},
    "observability": {"lending_observability", "aws_lambda_powertools"},
    # Start-up only: bundled into each Lambda zip and called by the hosts before serving.
    "aws": {"lending_aws", "boto3"},  # botocore is in the Lambda runtime; Powertools loads it
}
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/function.json"))


def test_every_layer_is_known_to_this_check() -> None:
    assert {p.parent.name for p in LAYERS.glob("*/python")} == set(LAYER_MODULES)


def test_the_domain_core_imports_only_the_standard_library() -> None:
    offenders = []
    for path in (LAYERS / "core" / "python").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "lending" and top not in sys.stdlib_module_names:
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_every_layer_has_the_lambda_layout() -> None:
    for layer in LAYERS.iterdir():
        assert (layer / "python").is_dir(), layer
        assert (layer / "requirements.txt").is_file(), layer


PROBE = """
import importlib, json, sys
root, layers, module, vendor = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
sys.path[:0] = [root] + layers
sys.path.extend(vendor)  # vendor libraries, without the dev .pth that adds every layer
importlib.import_module(module)
print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_loads_with_only_its_declared_layers(function: str) -> None:
    declared = json.loads((ROOT / "functions" / function / "function.json").read_text())["layers"]
    assert "core" in declared
    paths = [str(LAYERS / name / "python") for name in declared]
    result = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, str(ROOT), json.dumps(paths), f"functions.{function}.handler",
         json.dumps(site.getsitepackages())],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    for layer, modules in LAYER_MODULES.items():
        if layer not in declared:
            assert not (modules & loaded), f"{function} loads {modules & loaded} from undeclared layer {layer}"


def test_return_never_loads_stripe() -> None:
    declared = json.loads((ROOT / "functions" / "return" / "function.json").read_text())["layers"]
    assert "payments" not in declared
