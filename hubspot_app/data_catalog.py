"""What data the app takes: which streams each requested scope lets the connector read and
which curated table each stream feeds. One source for the installers' page (`GET /data`,
hubspot_app/data_page.py) and README's table (`python -m deploy readme` writes it), so the two
cannot disagree. Pure data and functions: shipped to Lambda, no imports beyond the stdlib.
"""
from __future__ import annotations

from dataclasses import dataclass

# airbyte-source-hubspot 5.7.0, source_hubspot/source.py `scopes`: a stream is discovered when
# AT LEAST ONE of its scopes was granted (`scope_is_granted`). tests/integration/pages/test_data_page.py
# compares this copy with the installed connector's.
STREAM_SCOPES: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    "campaigns": {"crm.lists.read"},
    "companies": {"crm.objects.contacts.read", "crm.objects.companies.read"},
    "companies_property_history": {"crm.objects.companies.read"},
    "contact_lists": {"crm.lists.read"},
    "contacts": {"crm.objects.contacts.read"},
    "contacts_property_history": {"crm.objects.contacts.read"},
    "deal_pipelines": {"crm.objects.contacts.read"},
    "deal_splits": {"crm.objects.deals.read"},
    "deals": {"contacts", "crm.objects.deals.read"},
    "deals_property_history": {"crm.objects.deals.read"},
    "email_events": {"content"},
    "email_subscriptions": {"content"},
    "engagements": {"crm.objects.companies.read", "crm.objects.contacts.read",
                    "crm.objects.deals.read", "tickets", "e-commerce"},
    "engagements_calls": {"crm.objects.contacts.read"},
    "engagements_emails": {"crm.objects.contacts.read", "sales-email-read"},
    "engagements_meetings": {"crm.objects.contacts.read"},
    "engagements_notes": {"crm.objects.contacts.read"},
    "engagements_tasks": {"crm.objects.contacts.read"},
    "marketing_emails": {"content"},
    "deals_archived": {"contacts", "crm.objects.deals.read"},
    "forms": {"forms"},
    "form_submissions": {"forms"},
    "goals": {"crm.objects.goals.read"},
    "leads": {"crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.leads.read"},
    "line_items": {"e-commerce", "crm.objects.line_items.read"},
    "owners": {"crm.objects.owners.read"},
    "owners_archived": {"crm.objects.owners.read"},
    "products": {"e-commerce"},
    "subscription_changes": {"content"},
    "ticket_pipelines": {
        "media_bridge.read", "tickets", "crm.schemas.custom.read", "e-commerce", "timeline",
        "contacts", "crm.schemas.contacts.read", "crm.objects.contacts.read",
        "crm.objects.contacts.write", "crm.objects.deals.read", "crm.schemas.quotes.read",
        "crm.objects.deals.write", "crm.objects.companies.read", "crm.schemas.companies.read",
        "crm.schemas.deals.read", "crm.schemas.line_items.read", "crm.objects.companies.write"},
    "tickets": {"tickets"},
    "workflows": {"automation"},
}.items()}
# The same file: a stream not in `scopes` (an account's custom object) needs one of these.
CUSTOM_OBJECT_SCOPES = frozenset({"crm.schemas.custom.read", "crm.objects.custom.read"})
CUSTOM_OBJECTS = "custom objects"   # one stream, and one table, per custom object
# `properties_scopes`: without it the history stream reads the standard properties only.
PROPERTY_SCOPES = {"companies_property_history": "crm.schemas.companies.read",
                   "contacts_property_history": "crm.schemas.contacts.read",
                   "deals_property_history": "crm.schemas.deals.read"}
NOTES = {"oauth": "identifies the account (token introspection); reads no data"}
# glue/hubcurate/catalog.py table_of: `*_archived` streams flag deletions in their base table.
ARCHIVED_SUFFIX = "_archived"


# Tables the app fills with its own reader, not through the connector: association labels
# (hubspot_app/associations, read daily), which need the scopes of both object types of a pair
# (hubspot_app/associations/pairs.py OBJECT_SCOPES; tests/unit/associations checks the copy).
OWN_TABLES: dict[str, frozenset[str]] = {
    "association_labels": frozenset({"crm.objects.contacts.read", "crm.objects.companies.read",
                                     "crm.objects.deals.read", "tickets"}),
}
OWN_TABLE_NOTES = {"association_labels": "association labels (primary, unlabelled, the portal's "
                                          "own) read daily by the app itself, for the pairs whose "
                                          "two object types are granted"}


def table_of(stream: str) -> str:
    return stream[: -len(ARCHIVED_SUFFIX)] if stream.endswith(ARCHIVED_SUFFIX) else stream


@dataclass(frozen=True)
class ScopeRow:
    scope: str
    required: bool
    streams: tuple[str, ...]     # the streams this scope alone lets the connector read
    tables: tuple[str, ...]      # the curated tables those streams feed
    note: str = ""


def rows(required, optional) -> list[ScopeRow]:
    """One row per scope the app requests (required first, in the settings' order)."""
    out = []
    for scope, req in [(s, True) for s in required] + [(s, False) for s in optional]:
        streams = sorted(n for n, granted_by in STREAM_SCOPES.items() if scope in granted_by)
        if scope in CUSTOM_OBJECT_SCOPES:
            streams.append(CUSTOM_OBJECTS)
        own = sorted(t for t, scopes in OWN_TABLES.items() if scope in scopes)
        tables = sorted({table_of(n) for n in streams} | set(own))
        notes = [NOTES[scope]] if scope in NOTES else []
        notes += [OWN_TABLE_NOTES[t] for t in own]
        notes += [f"all properties' history in {n} (without it: the standard properties only)"
                  for n, s in sorted(PROPERTY_SCOPES.items()) if s == scope]
        if any(n.endswith(ARCHIVED_SUFFIX) for n in streams):
            notes.append("archived records flagged as deleted in their base table")
        out.append(ScopeRow(scope, req, tuple(streams), tuple(tables), "; ".join(notes)))
    return out


def streams_for(granted) -> set[str]:
    """The streams the connector discovers for these granted scopes (custom objects aside)."""
    return {n for n, granted_by in STREAM_SCOPES.items() if granted_by & set(granted)}


def markdown(required, optional) -> str:
    """README's table (no trailing newline)."""
    lines = ["| Scope | Requested | Streams it lets the connector read | Curated tables | Note |",
             "|---|---|---|---|---|"]
    for r in rows(required, optional):
        lines.append(f"| `{r.scope}` | {'required' if r.required else 'optional'} | "
                     f"{', '.join(r.streams) or '—'} | {', '.join(r.tables) or '—'} | "
                     f"{r.note or ''} |")
    return "\n".join(lines)
