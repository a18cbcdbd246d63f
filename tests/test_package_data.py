"""Every C++ kernel's source and header ships with the package: a non-editable install compiles it on first use."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_kernel_source_is_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    listed = {str(Path(*pkg.split(".")) / name) for pkg, names in data.items() for name in names}
    sources = {str(p.relative_to(ROOT)) for ext in ("*.cpp", "*.h") for p in (ROOT / "agents").rglob(ext)}
    assert sources, "no kernel sources found"
    assert sources == listed, f"in agents/ but not package data: {sorted(sources - listed)}; listed but absent: {sorted(listed - sources)}"
