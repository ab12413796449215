"""README's scope -> streams -> curated tables table is generated from hubspot_app/data_catalog.py
(the installers' page renders the same rows), so the two cannot disagree."""
from __future__ import annotations

import pytest

from deploy import readme


def test_readme_scope_table_is_current():
    text = readme.README.read_text()
    assert readme.render(text) == text, "run: python -m deploy readme"


def test_render_replaces_only_between_the_markers():
    text = f"before\n{readme.BEGIN}\nstale\n{readme.END}\nafter\n"
    out = readme.render(text)
    assert out.startswith(f"before\n{readme.BEGIN}\n| Scope |") and out.endswith(f"{readme.END}\nafter\n")
    assert "stale" not in out and "`crm.objects.contacts.read` | required |" in out
    with pytest.raises(ValueError, match="markers"):
        readme.render("no markers here")
