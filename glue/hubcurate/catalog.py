"""Which curated table each connector stream feeds, and the typed columns of each table.

HubSpot sends every CRM property value as a string; the typed column list below is the common
schema shared by all accounts. Every other property (custom ones, which differ per account)
goes to the ``custom_properties`` map, so the schema never changes when an account adds one.
"""
ARCHIVED_SUFFIX = "_archived"  # deals_archived, owners_archived ... feed the same table
# Streams with their own builder; streams with a ``properties`` column are CRM objects; the rest
# are kept generically (id, timestamps, the record as JSON).
OWNERS, PIPELINES = {"owners"}, {"deal_pipelines", "ticket_pipelines"}
ID_FIELD = {"deal_pipelines": "pipelineId", "ticket_pipelines": "pipelineId"}
ASSOCIATIONS = ["companies", "contacts", "deals", "tickets", "line_items", "quotes", "products"]

# The streams of the official Airbyte HubSpot connector (airbyte-source-hubspot; the sandbox
# serves each, local_stack/hubspot_sandbox/truth.py). Others (an account's custom objects, a
# stream added by a connector upgrade) are still curated, and reported as unknown_streams.
KNOWN_STREAMS = frozenset({
    "campaigns", "companies", "companies_property_history", "contact_lists", "contacts",
    "contacts_property_history", "deal_pipelines", "deal_splits", "deals", "deals_archived",
    "deals_property_history", "email_events", "email_subscriptions", "engagements",
    "engagements_calls", "engagements_emails", "engagements_meetings", "engagements_notes",
    "engagements_tasks", "form_submissions", "forms", "goals", "leads", "line_items",
    "marketing_emails", "owners", "owners_archived", "products", "subscription_changes",
    "ticket_pipelines", "tickets", "workflows"})

_TS = "timestamp"
TYPED = {
    "contacts": {"email": "email", "firstname": "string", "lastname": "string",
                 "phone": "string", "company": "string", "website": "domain",
                 "jobtitle": "string", "lifecyclestage": "string", "hs_lead_status": "string",
                 "hubspot_owner_id": "string", "createdate": _TS, "lastmodifieddate": _TS,
                 "hs_email_optout": "bool", "num_conversion_events": "long",
                 "hs_buying_role": "multi"},
    "companies": {"name": "string", "domain": "domain", "industry": "string",
                  "numberofemployees": "long", "annualrevenue": "double", "city": "string",
                  "country": "string", "hubspot_owner_id": "string", "createdate": _TS,
                  "hs_lastmodifieddate": _TS},
    "deals": {"dealname": "string", "amount": "double", "closedate": _TS, "createdate": _TS,
              "hs_lastmodifieddate": _TS, "dealstage": "string", "pipeline": "string",
              "dealtype": "string", "hubspot_owner_id": "string", "hs_is_closed_won": "bool",
              "hs_deal_stage_probability": "double"},
    "tickets": {"subject": "string", "content": "string", "hs_pipeline": "string",
                "hs_pipeline_stage": "string", "hs_ticket_priority": "string",
                "hubspot_owner_id": "string", "createdate": _TS, "hs_lastmodifieddate": _TS},
    "line_items": {"name": "string", "quantity": "double", "price": "double",
                   "amount": "double", "hs_product_id": "string", "createdate": _TS},
    "products": {"name": "string", "price": "double", "description": "string",
                 "createdate": _TS},
}
# Joined into deals from the same account's owners and deal_pipelines.
DEAL_LABELS = ["pipeline_label", "dealstage_label", "dealstage_probability",
               "dealstage_is_closed", "owner_name", "owner_email"]


def table_of(stream: str) -> str:
    return stream[: -len(ARCHIVED_SUFFIX)] if stream.endswith(ARCHIVED_SUFFIX) else stream


def kind_of(table: str, has_properties: bool) -> str:
    if table in OWNERS:
        return "owners"
    if table in PIPELINES:
        return "pipelines"
    return "crm" if has_properties or table in TYPED else "generic"


def build_order(tables):
    """Owners and pipelines first: deals are joined with this run's versions of them."""
    rank = {"owners": 0, "deal_pipelines": 0, "deals": 2}
    return sorted(tables, key=lambda t: (rank.get(t, 1), t))
