"""Every lint or type suppression names what it silences and says why, on the same line.

A bare `# noqa` or `# type: ignore` hides every future problem on that line too; a reason
lets a reviewer check that the exception still holds.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Not ours or not in the tree: venvs, vendored code, npm packages, and build/ (packaging and
# benchmark output, git-ignored).
SKIP = {".venv", ".venv-connector", "vendor", "node_modules", ".git", "build"}
# Wanted: noqa with its codes then " - reason"; type-ignore with [code] then "  # reason".
NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)$")
TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore\b(?P<rest>.*)$")
CODES_THEN_REASON = re.compile(r"^:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*\s*(?:-|\(|—)\s*\S")
# mypy reads nothing after the bracket but another comment: `# type: ignore[code]  # why`.
BRACKET_THEN_REASON = re.compile(r"^\[[a-z0-9-]+(?:,\s*[a-z0-9-]+)*\]\s*#\s*\S")


def _python_files():
    for path in ROOT.rglob("*.py"):
        if not SKIP.intersection(path.relative_to(ROOT).parts) and path != Path(__file__).resolve():
            yield path


def _offences():
    for path in _python_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            if (m := NOQA.search(line)) and not CODES_THEN_REASON.match(m["rest"]):
                yield f"{where}: `# noqa` needs its code(s) and a reason: `# noqa: CODE - why`"
            if (m := TYPE_IGNORE.search(line)) and not BRACKET_THEN_REASON.match(m["rest"]):
                yield f"{where}: `# type: ignore` needs its code and a reason: `# type: ignore[code]  # why`"


def test_every_suppression_has_a_code_and_a_reason():
    offences = list(_offences())
    assert not offences, "\n".join(offences)


def test_the_checker_catches_a_bare_suppression():
    assert not CODES_THEN_REASON.match("")
    assert not CODES_THEN_REASON.match(": E731")
    assert CODES_THEN_REASON.match(": BLE001 - report and go on")
    assert not BRACKET_THEN_REASON.match("")
    assert BRACKET_THEN_REASON.match("[arg-type]  # pynamodb's stubs are too narrow")
    assert not BRACKET_THEN_REASON.match("[arg-type]")
