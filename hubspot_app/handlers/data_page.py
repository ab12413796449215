"""`GET /data`: the installers' page of what data the app takes (hubspot_app.data_page).

Its own adapter, so a cold /install does not load the page's catalog."""
from __future__ import annotations

from hubspot_app.data_page import data_page as render
from hubspot_app.data_page import facts
from hubspot_app.pages import Page
from hubspot_app.runtime import Services, services


def data_page(journal_poll_minutes: int, svc: Services | None = None) -> Page:
    # Settings only: the page reads no secret and no table.
    svc = svc or services()
    return render(facts(svc.settings, journal_poll_minutes))
