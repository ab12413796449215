"""A minimal browser for the install flow: follows redirects, keeps cookies, submits forms.

The main job and the HTTP round-trip tests use it to go through /install -> HubSpot consent ->
/oauth/callback exactly as a person's browser would (the Chromium test does it for real).
"""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.method, self.fields, self.radios = "", "get", {}, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action, self.method = a.get("action", ""), a.get("method", "get").lower()
        elif tag == "input" and a.get("name"):
            if a.get("type") == "radio":
                self.radios.setdefault(a["name"], []).append(a.get("value", ""))
            else:
                self.fields[a["name"]] = a.get("value", "")


def install_account(app_url: str, hub_id: int | None = None, decision: str = "approve",
                    session: requests.Session | None = None) -> requests.Response:
    """Install the app into the sandbox account `hub_id` (the first offered when None) and
    return the app's final page."""
    browser = session or requests.Session()
    consent = browser.get(f"{app_url}/install", timeout=30)
    consent.raise_for_status()
    form = _FormParser()
    form.feed(consent.text)
    offered = form.radios.get("hub_id", [])
    if not offered:
        raise RuntimeError(f"no account to choose on the consent page at {consent.url}")
    choice = str(hub_id) if hub_id is not None else offered[0]
    if choice not in offered:
        raise RuntimeError(f"hub {choice} is not offered on the consent page ({offered})")
    data = {**form.fields, "hub_id": choice, "decision": decision}
    return browser.post(urljoin(consent.url, form.action), data=data, timeout=60)
