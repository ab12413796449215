"""The sandbox's ground truth per connector stream: how many records a full read of each stream
of the official connector (airbyte-source-hubspot) returns for an account right now.

The main job compares the curated tables with this; the connector tests compare a read with it.
Counts are computed from the same generators the API serves (nothing is materialized), so the
property-history counts cost one pass over the account's contacts, companies and deals.
"""
from .marketing import SIZES, list_count, submissions_of, workflow_count
from .schema import ENGAGEMENTS

# Connector stream -> the sandbox CRM table whose live records it returns.
CRM_STREAMS = {"contacts": "contacts", "companies": "companies", "deals": "deals",
               "tickets": "tickets", "products": "products", "line_items": "line_items",
               "leads": "leads", "goals": "goal_targets", "deal_splits": "deal_splits",
               **{f"engagements_{n}": n for n in ENGAGEMENTS}}
PROPERTY_HISTORY = {"contacts_property_history": "contacts",
                    "companies_property_history": "companies",
                    "deals_property_history": "deals"}
EMAIL_SUBSCRIPTION_TYPES = 3


def stream_counts(store) -> dict:
    """{stream name: records a full read returns} for every stream the connector has (its 32
    streams and the account's custom objects)."""
    t, m = store.tables, store.marketing
    live = {name: table.counts()["live"] for name, table in t.items()}
    out = {stream: live[name] for stream, name in CRM_STREAMS.items()}
    out["engagements"] = sum(live[n] for n in ENGAGEMENTS)
    out["deals_archived"] = t["deals"].counts()["deleted"]
    for stream, name in PROPERTY_HISTORY.items():
        out[stream] = t[name].history_rows()
    forms = m.sets["forms"]
    out.update({
        "owners": len(store.owners), "owners_archived": len(store.archived_owners),
        "deal_pipelines": 1, "ticket_pipelines": 1,
        "forms": forms.counts()["live"],
        "form_submissions": sum(len(submissions_of(store, m.item_id("forms", k)))
                                for k in range(forms.count) if forms.live(k)),
        "campaigns": m.sets["campaigns"].count,
        "marketing_emails": m.sets["marketing_emails"].counts()["live"],
        "email_events": m.sets["email_events"].counts()["live"],
        "email_subscriptions": EMAIL_SUBSCRIPTION_TYPES,
        "subscription_changes": SIZES["timeline"],
        "contact_lists": list_count(store), "workflows": workflow_count(store)})
    for sch in store.schemas:            # custom objects: the stream is the object's name
        out[sch["name"]] = live[sch["name"]]
    return dict(sorted(out.items()))


def history_with_deleted(store) -> dict:
    """{property-history stream: records of live *and* deleted objects}: what an append-only
    lake holds when every deleted object was synced before its deletion (history streams carry
    no deletions)."""
    return {stream: store.tables[name].history_rows(deleted=True)
            for stream, name in PROPERTY_HISTORY.items()}


# The association label reader's pairs (hubspot_app.associations.pairs.PAIRS, the raw contract
# in glue/README.md): from -> to as HubSpot's v3/v4 paths name them.
ASSOCIATION_LABEL_PAIRS = (("contacts", "companies"), ("deals", "contacts"), ("deals", "companies"),
                           *((n, to) for n in ENGAGEMENTS
                             for to in ("contacts", "companies", "deals", "tickets")))


def association_label_counts(store) -> dict:
    """{"from__to": lines a full read of that pair gives (one per from id, to id, association
    type)}: live from-records and their live associated records, as the v4 batch read answers."""
    out = {}
    for from_type, to_type in ASSOCIATION_LABEL_PAIRS:
        a, b = store.tables[from_type], store.tables[to_type]
        lines = 0
        for i in range(a.count):
            if not a.live(i):
                continue
            for j in a.associated(i, b):
                lines += len(store.association_types(a, i, b, j))
        out[f"{from_type}__{to_type}"] = lines
    return out
