"""The installers' data page (issue 12 §4): generated from the code's scope table and the
settings the functions run with, linked from every install page, working under API Gateway's
stage prefix; in headless Chromium (Debian's) on the local stack."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from hubspot_app import data_catalog, data_page
from hubspot_app.config import get_settings
from tests.harness import local_stack

from .conftest import ARTIFACTS

ROOT = Path(__file__).resolve().parents[3]
CONNECTOR_PY = ROOT / ".venv-connector" / "bin" / "python"
sys.path.insert(0, str(ROOT / "glue"))


# -- the catalog is the connector's truth -------------------------------------------------------
def test_stream_scopes_are_the_installed_connectors():
    if not CONNECTOR_PY.exists():
        pytest.skip("the connector's venv is not installed (./dev setup)")
    code = ("import json, source_hubspot.source as s; print(json.dumps({'scopes': "
            "{k: sorted(v) for k, v in s.scopes.items()}, 'properties': {k: sorted(v) for k, v "
            "in s.properties_scopes.items()}}))")
    out = subprocess.run([str(CONNECTOR_PY), "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    truth = json.loads(out.strip().splitlines()[-1])
    assert {k: sorted(v) for k, v in data_catalog.STREAM_SCOPES.items()} == truth["scopes"]
    assert {k: [v] for k, v in data_catalog.PROPERTY_SCOPES.items()} == truth["properties"]


# -- in the browser, under the /api stage prefix ---------------------------------------------------
@pytest.fixture(scope="module")
def stack():
    yield from local_stack(accounts=2, seed=31, path_prefix="/api")


def _data_page_facts(page):
    return {"scopes": page.locator("#scopes tr[data-scope]").evaluate_all(
                "els => els.map(e => e.dataset.scope)"),
            "required": page.locator("#scopes tr[data-scope] td:nth-child(2)").all_inner_texts(),
            "schedule": page.inner_text("#schedule"),
            "purge": page.get_attribute("#removal", "data-purge")}


@pytest.mark.slow
def test_install_pages_link_the_data_page_under_the_stage_prefix(stack, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    settings = get_settings()
    assert stack.app_url.endswith("/api")
    # /install: the redirect's body links it too (for clients that do not follow redirects).
    start = requests.get(f"{stack.app_url}/install", allow_redirects=False, timeout=10)
    assert start.status_code == 302 and 'href="/api/data"' in start.text

    page = browser.new_page()
    page.goto(f"{stack.app_url}/install")
    page.click("button[name=decision][value=approve]")
    page.wait_for_selector("#result")
    assert page.inner_text("#result") == "HubSpot connected"
    # The success page says when the data arrives: first sync at the end of provisioning, the
    # curated tables after the trigger's window, then the connection's schedule.
    arrival = page.inner_text("#arrival")
    schedule = data_page.schedule_text(settings.airbyte.schedule_cron)
    assert "first sync starts" in arrival and \
        f"{settings.glue.trigger_window_seconds} seconds" in arrival
    assert schedule.split(",")[0] in arrival
    page.screenshot(path=str(ARTIFACTS / "installed-with-arrival.png"), full_page=True)
    assert page.get_attribute("#data-link", "href") == "/api/data"
    page.click("#data-link")
    page.wait_for_selector("#title")
    assert page.url == f"{stack.app_url}/data"
    page.screenshot(path=str(ARTIFACTS / "data-page.png"), full_page=True)
    facts = _data_page_facts(page)
    # The page's scope list is exactly what the app requests at install, in the same roles.
    assert facts["scopes"] == list(settings.hubspot.scopes) + list(settings.hubspot.optional_scopes)
    assert facts["required"] == (["required"] * len(settings.hubspot.scopes)
                                 + ["optional"] * len(settings.hubspot.optional_scopes))
    # Rows are the catalog's for those scopes.
    for row in data_catalog.rows(settings.hubspot.scopes, settings.hubspot.optional_scopes):
        cell = page.inner_text(f"#scopes tr[data-scope='{row.scope}'] td:nth-child(3)")
        assert all(s in cell for s in row.streams)
    assert schedule.replace("<code>", "").replace("</code>", "") in facts["schedule"]
    assert facts["purge"] == ("on" if settings.lifecycle.purge_s3_on_uninstall else "off")
    if facts["purge"] == "on":
        assert page.get_attribute("#removal", "data-retention-hours") == \
            f"{settings.lake.snapshot_retention_hours:g}"
    # Its own install button keeps the prefix too.
    assert page.get_attribute("a.button", "href") == "/api/install"
    page.close()


@pytest.mark.slow
def test_a_refusal_page_links_the_data_page(stack, browser):
    page = browser.new_page()
    page.goto(f"{stack.app_url}/install")
    page.click("button[name=decision][value=deny]")
    page.wait_for_selector("#result")
    assert page.get_attribute("#result", "data-error") == "400"
    page.click("#data-link")
    page.wait_for_selector("#title")
    assert page.inner_text("#title") == "What data the app takes"
    page.close()
