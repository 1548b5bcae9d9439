"""Assemble `tokenmock` as the wheel lays it out, from symlinks, so mypy checks one package.

setuptools maps the repository's top-level folders into the package (pyproject's package-dir); mypy
knows nothing of that mapping, so the type check runs on this tree instead: `python .ci/package_tree.py DIR`
prints DIR/tokenmock.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAPPED = ("client", "contracts", "mockserver", "openapi")

target = Path(sys.argv[1]).resolve() / "tokenmock"
target.mkdir(parents=True, exist_ok=True)
for entry in target.iterdir():
    entry.unlink()
for source in (ROOT / "src" / "tokenmock").iterdir():
    if source.name != "__pycache__":
        (target / source.name).symlink_to(source)
for name in MAPPED:
    (target / name).symlink_to(ROOT / name, target_is_directory=True)
print(target)
