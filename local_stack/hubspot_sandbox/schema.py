"""Object types, their standard properties and aliases, as HubSpot names them."""

# canonical plural name -> (objectTypeId, cursor property, [(name, type, fieldType, generator)])
_COMMON = [("createdate", "datetime", "date", "created"),
           ("hs_object_id", "number", "number", "id"),
           ("hubspot_owner_id", "enumeration", "select", "owner")]

OBJECTS = {
    "contacts": ("0-1", "lastmodifieddate", [
        ("firstname", "string", "text", "first_name"), ("lastname", "string", "text", "last_name"),
        ("email", "string", "text", "email"), ("phone", "string", "phonenumber", "phone"),
        ("city", "string", "text", "city"), ("country", "string", "text", "country"),
        ("lifecyclestage", "enumeration", "radio", "enum:subscriber,lead,marketingqualifiedlead,"
         "salesqualifiedlead,opportunity,customer"),
        ("lastmodifieddate", "datetime", "date", "updated")]),
    "companies": ("0-2", "hs_lastmodifieddate", [
        ("name", "string", "text", "company"), ("domain", "string", "text", "domain"),
        ("industry", "enumeration", "select", "enum:COMPUTER_SOFTWARE,RETAIL,BANKING,INSURANCE,"
         "HOSPITAL_HEALTH_CARE,MARKETING_AND_ADVERTISING"),
        ("numberofemployees", "number", "number", "int:1:5000"),
        ("annualrevenue", "number", "number", "money"), ("city", "string", "text", "city"),
        ("hs_lastmodifieddate", "datetime", "date", "updated")]),
    "deals": ("0-3", "hs_lastmodifieddate", [
        ("dealname", "string", "text", "deal"), ("amount", "number", "number", "money"),
        ("pipeline", "enumeration", "select", "enum:default"),
        ("dealstage", "enumeration", "radio", "enum:appointmentscheduled,qualifiedtobuy,"
         "presentationscheduled,closedwon,closedlost"),
        ("closedate", "datetime", "date", "datetime"),
        ("hs_lastmodifieddate", "datetime", "date", "updated")]),
    "tickets": ("0-5", "hs_lastmodifieddate", [
        ("subject", "string", "text", "sentence"), ("content", "string", "textarea", "sentence"),
        ("hs_pipeline", "enumeration", "select", "enum:0"),
        ("hs_pipeline_stage", "enumeration", "radio", "enum:1,2,3,4"),
        ("hs_ticket_priority", "enumeration", "select", "enum:LOW,MEDIUM,HIGH"),
        ("hs_lastmodifieddate", "datetime", "date", "updated")]),
    "products": ("0-7", "hs_lastmodifieddate", [
        ("name", "string", "text", "product"), ("price", "number", "number", "money"),
        ("hs_sku", "string", "text", "sku"), ("description", "string", "textarea", "sentence"),
        ("hs_lastmodifieddate", "datetime", "date", "updated")]),
    "line_items": ("0-8", "hs_lastmodifieddate", [
        ("name", "string", "text", "product"), ("quantity", "number", "number", "int:1:20"),
        ("price", "number", "number", "money"), ("amount", "number", "number", "money"),
        ("hs_lastmodifieddate", "datetime", "date", "updated")]),
}
for _name, _kind in (("calls", "0-48"), ("emails", "0-49"), ("meetings", "0-47"),
                     ("notes", "0-46"), ("tasks", "0-27")):
    OBJECTS[_name] = (_kind, "hs_lastmodifieddate", [
        ("hs_timestamp", "datetime", "date", "datetime"),
        ("hs_body_preview", "string", "textarea", "sentence"),
        ("hs_engagement_source", "enumeration", "select", "enum:CRM_UI,INTEGRATION,EMAIL_INTEGRATION"),
        ("hs_lastmodifieddate", "datetime", "date", "updated")])
for _spec in OBJECTS.values():
    _spec[2].extend(_COMMON)

ALIASES = {"contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets",
           "product": "products", "line_item": "line_items", "call": "calls", "email": "emails",
           "meeting": "meetings", "note": "notes", "task": "tasks"}
ALIASES.update({spec[0]: name for name, spec in OBJECTS.items()})
ALIASES.update({name: name for name in OBJECTS})

# Objects the connector may ask for that the sandbox keeps empty (answered, never 404).
EMPTY_OBJECTS = {"goal_targets", "goals", "leads", "deal_split", "deal_splits", "feedback_submissions",
                 "quotes", "invoices", "carts", "orders", "discounts", "fees", "taxes"}

# child -> parents it is associated with (index rule in data.py); gives both directions.
ASSOCIATIONS = {"contacts": ["companies"], "deals": ["contacts", "companies"],
                "tickets": ["contacts", "companies"], "line_items": ["deals"],
                "calls": ["contacts"], "emails": ["contacts"], "meetings": ["contacts"],
                "notes": ["contacts"], "tasks": ["contacts"]}

# HUBSPOT_DEFINED association type ids (v4), keyed by (from, to).
ASSOCIATION_TYPE_IDS = {("contacts", "companies"): 1, ("companies", "contacts"): 2,
                        ("deals", "contacts"): 3, ("contacts", "deals"): 4,
                        ("deals", "companies"): 5, ("companies", "deals"): 6,
                        ("tickets", "contacts"): 16, ("contacts", "tickets"): 15,
                        ("tickets", "companies"): 26, ("companies", "tickets"): 25,
                        ("line_items", "deals"): 20, ("deals", "line_items"): 19}

# Custom property per HubSpot property type, added to every object of every account.
CUSTOM_TYPES = [("string", "text"), ("number", "number"), ("date", "date"),
                ("datetime", "date"), ("enumeration", "checkbox"), ("bool", "booleancheckbox"),
                ("phone_number", "phonenumber")]


def canonical(name: str) -> str | None:
    return ALIASES.get(name)
