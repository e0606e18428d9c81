"""Lambda packages: one zip per function, one zip per layer, and the template that wires them.

    python -m infra.package [--out build] [--skip-dependencies]     (make package)
    python -m infra.package --template-only                          (before make infra-lint lints it)

Needs no AWS account. Each function zip holds `functions/<op>/` and the small start-up adapter
`lending_aws` (its `entry.handle` is every function's Lambda handler; it reads the settings held in AWS at init; it
is bundled rather than a sixth layer because Lambda allows five and borrow/purchase use five; its
boto3 is the one Lambda's Python runtime provides). Each layer zip has Lambda's layout
(`python/<package>/…`) plus that layer's requirements, installed from PyPI for Lambda's platform
(manylinux_2_28 or manylinux2014 x86_64,
CPython 3.12: the python3.12 runtime) and cached under build/.deps/. `infra/generated/lambda.yaml`
is generated (never committed, so it cannot drift) from functions/*/function.json: one function
per operation attached to exactly its declared layers, API Gateway (HTTP API, payload 1.0 = the
proxy event our handlers take) routes, and a schedule for functions that declare one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.bytecode import RUNTIME_TAG, runtime_python
from infra.lambda_template import TEMPLATE, functions, template_text
from infra.lambda_zips import CERTS, ROOT, build_function, build_layer, unzipped_size


# -- main ------------------------------------------------------------------------------------------
def human(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def build(out: Path, with_dependencies: bool, template_out: Path, python: str | None = None) -> list[str]:
    """Build everything; returns the report lines (one per function)."""
    out.mkdir(parents=True, exist_ok=True)
    cache = out / ".deps"
    fns = functions()
    layers = {layer: build_layer(layer, out, cache, with_dependencies, python)
              for layer in sorted({x for f in fns for x in f.layers})}
    template_out.parent.mkdir(parents=True, exist_ok=True)
    template_out.write_text(template_text())
    lines = [f"{'function':<16}{'code':>10}{'with layers':>14}{'unzipped':>12}  layers (code includes lending_aws)"]
    for fn in fns:
        code = build_function(fn, out, python)
        zipped = code.stat().st_size + sum(layers[x].stat().st_size for x in fn.layers)
        unzipped = unzipped_size(code) + sum(unzipped_size(layers[x]) for x in fn.layers)
        lines.append(f"{fn.name:<16}{human(code.stat().st_size):>10}{human(zipped):>14}{human(unzipped):>12}  "
                     f"{', '.join(fn.layers)}")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--template-out", type=Path, default=TEMPLATE)
    parser.add_argument("--skip-dependencies", action="store_true",
                        help="only our own code in the layers (no pip; for quick checks)")
    parser.add_argument("--template-only", action="store_true", help="only write the template (no zips)")
    args = parser.parse_args(argv)
    if args.template_only:
        args.template_out.parent.mkdir(parents=True, exist_ok=True)
        args.template_out.write_text(template_text())
        print(f"wrote {args.template_out}")
        return 0
    python = runtime_python()
    for line in build(args.out, not args.skip_dependencies, args.template_out, python):
        print(line)
    print(f"\nbytecode: {RUNTIME_TAG}, compiled by {python}" if python else
          f"\nbytecode: none (no {RUNTIME_TAG} interpreter found: set LAMBDA_PYTHON to one; without it Lambda "
          "compiles the source at every cold start)")
    if not (CERTS / "rds-global-bundle.pem").is_file():
        print(f"\nnote: no RDS CA bundle at {CERTS.relative_to(ROOT)}/rds-global-bundle.pem: the database layer's "
              "verify-full connections will fail until it is committed (infra/certs/README.md)", file=sys.stderr)
    print(f"\nzips under {args.out}/ (functions/, layers/); template {args.template_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
