"""tests/conftest.py hands the files of HEAVY_FIRST to the workers first: each entry must name a
test file that exists, or a renamed or split file would silently fall back to the end of the
run's schedule."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _heavy_first() -> list[str]:
    tree = ast.parse((ROOT / "tests" / "conftest.py").read_text())
    found = [ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
             and any(getattr(t, "id", None) == "HEAVY_FIRST" for t in node.targets)]
    assert len(found) == 1, "tests/conftest.py defines HEAVY_FIRST once, as a literal"
    return list(found[0])


def test_heavy_first_names_existing_test_files_once():
    listed = _heavy_first()
    assert listed and len(set(listed)) == len(listed), listed
    missing = [p for p in listed if not (ROOT / p).is_file() or not Path(p).name.startswith("test_")]
    assert not missing, f"HEAVY_FIRST names files that are not test files here: {missing}"
