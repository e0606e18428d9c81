"""The layering is a checked contract, not a comment.

- The domain core (`lending`) imports nothing but the standard library and itself: not the HTTP
  edge, not the settings, no vendor library.
- The HTTP edge (`lending_http`) and the settings (`lending_settings`) import only what is listed.
- Production code (layers, functions, vm_runtime, ops, app.py) imports nothing from dev/, bench/ or tests/.
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
    "core": {"lending", "lending_http", "lending_settings", "msgspec", "iso4217", "stdnum"},
    "database": {"lending_postgres", "pg8000"},
    "payments": {"lending_stripe", "stripe"},
    "auth": {"lending_oidc", "cryptography"},
    "observability": {"lending_observability", "msgspec"},
    "mail": {"lending_mail"},  # the standard library's smtplib: no vendor library
    # Start-up only: bundled into each Lambda zip and called by the hosts before serving.
    "aws": {"lending_aws", "boto3"},  # botocore comes with boto3 (and with the Lambda runtime)
    "marc": {"lending_marc", "pymarc", "defusedxml"},  # catalogue files: the import function only
}
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/function.json"))


def test_every_layer_is_known_to_this_check() -> None:
    assert {p.parent.name for p in LAYERS.glob("*/python")} == set(LAYER_MODULES)


# package -> the top-level modules (besides the standard library) it may import
MAY_IMPORT = {
    "lending": {"lending"},
    "lending_http": {"lending", "lending_http", "lending_settings", "iso4217", "stdnum"},
    "lending_settings": {"lending_settings", "msgspec"},
}
PRODUCTION = [LAYERS, ROOT / "functions", ROOT / "vm_runtime", ROOT / "ops", ROOT / "app.py"]
NEVER_IN_PRODUCTION = {"dev", "bench", "tests"}


def imported(path: Path) -> set[str]:
    """Top-level modules a file imports (absolute imports, anywhere in the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_the_core_packages_import_only_what_they_may(package: str) -> None:
    offenders = [f"{path.relative_to(ROOT)}: {name}"
                 for path in (LAYERS / "core" / "python" / package).rglob("*.py")
                 for name in imported(path) - MAY_IMPORT[package] if name not in sys.stdlib_module_names]
    assert offenders == []


def test_the_core_layer_holds_only_the_known_packages() -> None:
    assert {p.name for p in (LAYERS / "core" / "python").iterdir() if p.is_dir() and p.name != "__pycache__"} == \
        set(MAY_IMPORT)


def test_production_code_imports_nothing_from_dev_bench_or_tests() -> None:
    files = [p for root in PRODUCTION for p in ([root] if root.is_file() else root.rglob("*.py"))]
    offenders = [f"{path.relative_to(ROOT)}: {name}" for path in files for name in imported(path) & NEVER_IN_PRODUCTION]
    assert files and offenders == []


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
