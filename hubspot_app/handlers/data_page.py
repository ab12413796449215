"""`GET /data`: the installers' page of what data the app takes (hubspot_app.data_page).

Its own adapter, so a cold /install does not load the page's catalog. Settings only: the page
reads no secret, table or AWS API, so it does not load hubspot_app.runtime (nor boto3)."""
from __future__ import annotations

from hubspot_app.config import Settings, get_settings
from hubspot_app.data_page import data_page as render
from hubspot_app.data_page import facts
from hubspot_app.pages import Page


def data_page(journal_poll_minutes: int, settings: Settings | None = None) -> Page:
    return render(facts(settings or get_settings(), journal_poll_minutes))
