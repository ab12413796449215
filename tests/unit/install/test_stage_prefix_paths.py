"""The install routes' paths follow the redirect URI's stage prefix (the flow under the prefix:
tests/integration/install/test_stage_prefix.py)."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from hubspot_app.config import get_settings, reset_settings


@pytest.mark.parametrize("redirect, prefix", [
    ("https://abc123.execute-api.eu-west-1.amazonaws.com/api/oauth/callback", "/api"),
    ("https://hubspot.example.com/oauth/callback", ""),                  # a custom domain's root
    ("https://example.com/hubspot/oauth/callback", "/hubspot"),          # a base path mapping
])
def test_paths_follow_the_redirect_uri(monkeypatch, redirect, prefix):
    from hubspot_app import install
    from hubspot_app.pages import error_page

    origin = "{0.scheme}://{0.netloc}".format(urlparse(redirect))
    monkeypatch.setenv("HUBSPOT_REDIRECT_URI", redirect)
    monkeypatch.delenv("HUBSPOT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("REINSTALL_URL", raising=False)
    monkeypatch.setenv("COOKIE_SECURE", "true")   # as on every deployed stage
    for name in ("APP_SECRET_NAME", "ACCOUNTS_TABLE", "STATES_TABLE", "KMS_KEY_ID",
                 "PROVISION_QUEUE_NAME", "LIFECYCLE_QUEUE_NAME", "UNINSTALL_AUDIT_TABLE",
                 "WEBHOOK_RECEIPTS_TABLE"):
        monkeypatch.setenv(name, "x")
    reset_settings()
    reset_settings()
    try:
        settings = get_settings()
        assert install.cookie_path(settings) == f"{prefix}/oauth/callback"
        header = install._cookie_header("v", settings, 600)
        assert f"; Path={prefix}/oauth/callback;" in header and "; Secure" in header
        health = get_settings().lifecycle
        assert health.webhook_url == f"{origin}{prefix}/webhooks/hubspot"
        assert health.reinstall_url == f"{origin}{prefix}/install"
        assert f'href="{prefix}/install"' in error_page(400, "t", "d").body
        assert f'href="{prefix}/data"' in error_page(400, "t", "d").body   # the data page
    finally:
        reset_settings()
        reset_settings()
