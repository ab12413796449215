"""The pairs the reader reads and the scopes each needs.

23 pairs (the raw contract, glue/README.md "Association labels"): contacts->companies,
deals->contacts, deals->companies, and each activity (calls, emails, meetings, notes, tasks) to
contacts, companies, deals and tickets. A pair is read only when the account granted a scope for
both object types: the scope each object type's CRM v3 list endpoint requires in HubSpot's
documents (tests/contracts/hubspot/<object>-v3.json, `GET /crm/v3/objects/<object>` security:
contacts `crm.objects.contacts.read`, companies `crm.objects.companies.read`, deals
`crm.objects.deals.read`, tickets `tickets`; the activities' documents (calls, emails, meetings,
notes, tasks) name `crm.objects.contacts.read`).
"""
from __future__ import annotations

from collections.abc import Iterable

ACTIVITIES = ("calls", "emails", "meetings", "notes", "tasks")
PAIRS: tuple[tuple[str, str], ...] = (
    ("contacts", "companies"), ("deals", "contacts"), ("deals", "companies"),
    *((a, to) for a in ACTIVITIES for to in ("contacts", "companies", "deals", "tickets")))

OBJECT_SCOPES: dict[str, tuple[str, ...]] = {
    "contacts": ("crm.objects.contacts.read",),
    "companies": ("crm.objects.companies.read",),
    "deals": ("crm.objects.deals.read",),
    "tickets": ("tickets",),
    **{a: ("crm.objects.contacts.read",) for a in ACTIVITIES},
}


def pair_name(from_type: str, to_type: str) -> str:
    return f"{from_type}__{to_type}"


def readable(object_type: str, scopes: Iterable[str]) -> bool:
    granted = set(scopes)
    return any(s in granted for s in OBJECT_SCOPES.get(object_type, ()))


def split_by_scope(scopes: Iterable[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(pairs the scopes allow, pairs skipped) in PAIRS' order."""
    granted = set(scopes)
    allowed: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for pair in PAIRS:
        (allowed if readable(pair[0], granted) and readable(pair[1], granted) else skipped).append(pair)
    return allowed, skipped
