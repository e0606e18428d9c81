"""Put the repository and every layer's python/ on the venv's path (a .pth file).

Lambda puts layers under /opt/python; locally the venv does the same job.
"""

import site
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
paths = [str(root)] + [str(p) for p in sorted((root / "layers").glob("*/python"))]
target = Path(site.getsitepackages()[0]) / "library_lending.pth"
target.write_text("\n".join(paths) + "\n")
print(f"wrote {target}", file=sys.stderr)
