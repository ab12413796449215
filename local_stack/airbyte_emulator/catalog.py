"""Connector definitions and the HubSpot source's stream catalog, as facts the API validates against.

Airbyte validates a connection's stream configurations against the source's discovered catalog.
Running `discover` on every connection create would make the API part depend on the connector
venv and the sandbox, so the emulator keeps the catalog of airbyte-source-hubspot 5.7.0 as data
(read off its resolved manifest: name, incremental support, primary key, cursor field). Custom
object streams (discovered per account) are not listed; see `extra_streams` on the emulator.
"""
from __future__ import annotations

HUBSPOT_DEFINITION_ID = "36c891d9-4bd9-43ac-bad2-10e12756272c"
S3_DEFINITION_ID = "4816b78f-1489-44c1-9060-4b19d5fa9362"

SOURCE_DEFINITIONS = {"hubspot": HUBSPOT_DEFINITION_ID}
DESTINATION_DEFINITIONS = {"s3": S3_DEFINITION_ID}

FULL_REFRESH_MODES = ("full_refresh_overwrite", "full_refresh_append")
# destination-s3 supports overwrite and append only (no dedup, no update/soft delete).
INCREMENTAL_MODES = ("incremental_append",)

# name: (supports incremental, primary key, default cursor field)
_HUBSPOT = {
    "campaigns": (True, ["id"], "lastUpdatedTime"),
    "companies": (True, ["id"], "updatedAt"),
    "companies_property_history": (True, ["companyId", "property", "timestamp"], "timestamp"),
    "contact_lists": (True, ["listId"], "updatedAt"),
    "contacts": (True, ["id"], "updatedAt"),
    "contacts_property_history": (True, ["vid", "property", "timestamp"], "timestamp"),
    "deal_pipelines": (True, ["pipelineId"], "updatedAt"),
    "deal_splits": (True, ["id"], "updatedAt"),
    "deals": (True, ["id"], "updatedAt"),
    "deals_archived": (True, ["id"], "archivedAt"),
    "deals_property_history": (True, ["dealId", "property", "timestamp"], "timestamp"),
    "email_events": (True, ["id"], "created"),
    "email_subscriptions": (False, ["id"], None),
    "engagements": (True, ["id"], "lastUpdated"),
    "engagements_calls": (True, ["id"], "updatedAt"),
    "engagements_emails": (True, ["id"], "updatedAt"),
    "engagements_meetings": (True, ["id"], "updatedAt"),
    "engagements_notes": (True, ["id"], "updatedAt"),
    "engagements_tasks": (True, ["id"], "updatedAt"),
    "form_submissions": (True, [], "updatedAt"),
    "forms": (True, ["id"], "updatedAt"),
    "goals": (True, ["id"], "updatedAt"),
    "leads": (True, ["id"], "updatedAt"),
    "line_items": (True, ["id"], "updatedAt"),
    "marketing_emails": (False, ["id"], None),
    "owners": (True, ["id"], "updatedAt"),
    "owners_archived": (True, ["id"], "updatedAt"),
    "products": (True, ["id"], "updatedAt"),
    "subscription_changes": (True, [], "timestamp"),
    "ticket_pipelines": (True, ["id"], "updatedAt"),
    "tickets": (True, ["id"], "updatedAt"),
    "workflows": (True, ["id"], "updatedAt"),
}


class StreamInfo(dict):
    """{name, incremental, primaryKey [[...]], cursorField [...]} for one catalog stream."""


def hubspot_catalog(extra_streams: dict | None = None) -> dict[str, StreamInfo]:
    out = {}
    for name, (inc, pk, cursor) in {**_HUBSPOT, **(extra_streams or {})}.items():
        out[name] = StreamInfo(name=name, incremental=inc, primaryKey=[[k] for k in pk],
                               cursorField=[cursor] if cursor else [])
    return out


def valid_sync_modes(info: StreamInfo) -> list[str]:
    return list(FULL_REFRESH_MODES) + (list(INCREMENTAL_MODES) if info["incremental"] else [])
