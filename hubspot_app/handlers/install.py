"""The install routes: `GET /install` (the marketplace link) and `GET /oauth/callback`."""
from __future__ import annotations

from hubspot_app.install import complete_install, start_install
from hubspot_app.pages import Page
from hubspot_app.runtime import Services, services


def install_link(svc: Services | None = None) -> Page:
    svc = svc or services()
    return start_install(svc)


def oauth_callback(query_params: dict, cookie_header: str | None,
                   svc: Services | None = None) -> Page:
    svc = svc or services()
    return complete_install(svc, query_params, cookie_header)

