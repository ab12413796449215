"""The install as a person does it: headless Chromium (Debian's) through /install -> consent ->
callback -> success page, on the local stack."""
from __future__ import annotations

import pytest

from hubspot_app.models import Account
from tests.harness import local_stack

from .conftest import ARTIFACTS


@pytest.fixture(scope="module")
def stack():
    yield from local_stack(accounts=2, seed=23)


@pytest.mark.slow
def test_install_through_consent_in_chromium(stack, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    page.goto(f"{stack.app_url}/install")
    assert page.url.startswith(f"{stack.hubspot_url}/oauth/authorize")
    hub_ids = [int(v) for v in page.locator("input[name=hub_id]").evaluate_all(
        "els => els.map(e => e.value)")]
    target = hub_ids[-1]
    page.check(f"input[name=hub_id][value='{target}']")
    page.screenshot(path=str(ARTIFACTS / "consent.png"))
    page.click("button[name=decision][value=approve]")
    page.wait_for_selector("#result")
    page.screenshot(path=str(ARTIFACTS / "installed.png"))
    assert page.url.startswith(f"{stack.app_url}/oauth/callback")
    assert page.inner_text("#result") == "HubSpot connected"
    assert page.get_attribute("#result", "data-hub-id") == str(target)
    assert Account.get(target).status == "installed"
    # The browser bound cookie is HttpOnly: page scripts cannot read it.
    assert "hs_install" not in page.evaluate("document.cookie")
    page.close()


@pytest.mark.slow
def test_cancel_in_chromium_shows_clear_page(stack, browser):
    page = browser.new_page()
    before = sum(1 for _ in Account.scan())
    page.goto(f"{stack.app_url}/install")
    page.click("button[name=decision][value=deny]")
    page.wait_for_selector("#result")
    page.screenshot(path=str(ARTIFACTS / "cancelled.png"))
    assert page.get_attribute("#result", "data-error") == "400"
    assert "cancelled" in page.inner_text("#result")
    assert page.is_visible("text=Start the install again")
    assert sum(1 for _ in Account.scan()) == before
    page.close()
