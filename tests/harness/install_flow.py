"""Steps of the install flow over real HTTP, for tests that need to stop between them."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests

from hubspot_app.models import Account
from local_stack.browser import _FormParser


def account_count() -> int:
    return sum(1 for _ in Account.scan())


def begin(app_url: str, browser: requests.Session) -> str:
    """GET /install; return HubSpot's authorize URL (the browser keeps the cookie)."""
    response = browser.get(f"{app_url}/install", allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def consent(authorize_url: str, browser: requests.Session, hub_id: int | None = None,
            decision: str = "approve") -> str:
    """Answer HubSpot's consent page; return the callback URL HubSpot redirects to."""
    page = browser.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    form = _FormParser()
    form.feed(page.text)
    data = {**form.fields, "hub_id": str(hub_id or form.radios["hub_id"][0]), "decision": decision}
    answer = browser.post(urlparse(authorize_url)._replace(path=form.action, query="").geturl(),
                          data=data, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def callback_params(callback_url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(callback_url).query).items()}


def finish(callback_url: str, browser: requests.Session) -> requests.Response:
    return browser.get(callback_url, allow_redirects=False, timeout=30)
