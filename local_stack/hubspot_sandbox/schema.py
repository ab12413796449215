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
# Added after the originals so the ids of the types above stay where they were.
OBJECTS["leads"] = ("0-136", "hs_lastmodifieddate", [
    ("hs_lead_name", "string", "text", "deal"),
    ("hs_pipeline", "enumeration", "select", "enum:lead-pipeline-id"),
    ("hs_pipeline_stage", "enumeration", "radio", "enum:new-stage-id,attempting-stage-id,"
     "connected-stage-id,qualified-stage-id,unqualified-stage-id"),
    ("hs_lead_type", "enumeration", "select", "enum:NEW_BUSINESS,UPSELL,RE_ATTEMPTING"),
    ("hs_lastmodifieddate", "datetime", "date", "updated")])
OBJECTS["goal_targets"] = ("0-74", "hs_lastmodifieddate", [
    ("hs_goal_name", "string", "text", "sentence"),
    ("hs_target_amount", "number", "number", "money"),
    ("hs_start_datetime", "datetime", "date", "period_start"),
    ("hs_end_datetime", "datetime", "date", "period_end"),
    ("hs_goal_type", "enumeration", "select", "enum:revenue,deals_created,calls_made,meetings_booked"),
    ("hs_lastmodifieddate", "datetime", "date", "updated")])
OBJECTS["deal_splits"] = ("0-0", "hs_lastmodifieddate", [      # HubSpot exposes no public type id
    ("hs_deal_split_percentage", "number", "number", "split_share"),
    ("hs_lastmodifieddate", "datetime", "date", "updated")])
for _spec in OBJECTS.values():
    _spec[2].extend(_COMMON)

# The connector pages goals with `offset`, which CRM v3 lists ignore, so more than one page of
# goal targets would make it loop; HubSpot accounts hold few (one per owner and period).
MAX_GOAL_TARGETS = 60

ALIASES = {"contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets",
           "product": "products", "line_item": "line_items", "call": "calls", "email": "emails",
           "meeting": "meetings", "note": "notes", "task": "tasks", "lead": "leads",
           "goal_target": "goal_targets", "goals": "goal_targets", "goal": "goal_targets",
           "deal_split": "deal_splits"}
ALIASES.update({spec[0]: name for name, spec in OBJECTS.items() if spec[0] != "0-0"})
ALIASES.update({name: name for name in OBJECTS})

# Objects the connector may ask for that the sandbox keeps empty (answered, never 404).
EMPTY_OBJECTS = {"feedback_submissions", "quotes", "invoices", "carts", "orders", "discounts", "fees", "taxes"}

# child -> parents it is associated with (index rule in data.py); gives both directions.
ASSOCIATIONS = {"contacts": ["companies"], "deals": ["contacts", "companies"],
                "tickets": ["contacts", "companies"], "line_items": ["deals"],
                "leads": ["contacts", "companies"], "deal_splits": ["deals"]}
# Activities (engagements) are associated with a contact, its company, a deal and a ticket, as
# the connector's engagements_* streams ask for (associations=companies,contacts,deals,tickets).
ENGAGEMENTS = ("calls", "emails", "meetings", "notes", "tasks")
for _name in ENGAGEMENTS:
    ASSOCIATIONS[_name] = ["contacts", "companies", "deals", "tickets"]

# HUBSPOT_DEFINED association type ids (v4), keyed by (from, to).
ASSOCIATION_TYPE_IDS = {("contacts", "companies"): 1, ("companies", "contacts"): 2,
                        ("deals", "contacts"): 3, ("contacts", "deals"): 4,
                        ("deals", "companies"): 5, ("companies", "deals"): 6,
                        ("tickets", "contacts"): 16, ("contacts", "tickets"): 15,
                        ("tickets", "companies"): 26, ("companies", "tickets"): 25,
                        ("line_items", "deals"): 20, ("deals", "line_items"): 19}
# Activities' HUBSPOT_DEFINED ids ("HubSpot defined association types",
# https://developers.hubspot.com/docs/api/crm/associations): from activity to contact, company,
# deal, ticket; the reverse direction is one less.
for _name, _ids in (("calls", (194, 182, 206, 220)), ("emails", (198, 186, 210, 224)),
                    ("meetings", (200, 188, 212, 226)), ("notes", (202, 190, 214, 228)),
                    ("tasks", (204, 192, 216, 230))):
    for _other, _tid in zip(("contacts", "companies", "deals", "tickets"), _ids, strict=True):
        ASSOCIATION_TYPE_IDS[(_name, _other)] = _tid
        ASSOCIATION_TYPE_IDS[(_other, _name)] = _tid - 1

# Association labels (v4 `associationTypes`). HubSpot's associations guide ("HubSpot defined
# association types", https://developers.hubspot.com/docs/api/crm/associations): every
# association carries the unlabelled HUBSPOT_DEFINED type (returned with no label), and a record's
# primary company adds the "Primary" type next to it. The ids below are the ones HubSpot lists
# there: contact -> company primary 1 / unlabelled 279, company -> contact primary 2 / unlabelled
# 280, deal -> company primary 5 / unlabelled 341, company -> deal primary 6 / unlabelled 342;
# deal <-> contact (3/4) and the activities' ids have no primary. The primary type's label text
# ("Primary") is what HubSpot's labels endpoint answers in a community thread
# (community.hubspot.com t5/APIs-Integrations/Association-s-typeId-field-is-not-unique); HubSpot's
# changelog of 2024-02-19 renamed some to "<Object> with Primary Company" and says labels must not
# be relied on: a guess, see README Known limits. The spec (associations-v4.json,
# AssociationSpecWithLabel) makes `label` an optional, non-nullable string: omitted when none.
PRIMARY_TYPES = {("contacts", "companies"): (1, 279), ("companies", "contacts"): (2, 280),
                 ("deals", "companies"): (5, 341), ("companies", "deals"): (6, 342)}
PRIMARY_LABEL = "Primary"
# USER_DEFINED labels the sandbox's portals defined (an account admin's own labels; their typeIds
# are the portal's, small numbers as HubSpot gives them). A label is one type per direction.
# (from, to) -> [(typeId, label, every Nth pair carries it)]; the reverse direction has typeId+1.
USER_LABELS = {("contacts", "companies"): [(11, "Decision maker", 3), (13, "Champion", 5)],
               ("deals", "contacts"): [(15, "Decision maker", 4), (17, "Champion", 3)],
               ("deals", "companies"): [(19, "Billing company", 2)]}
for (_a, _b), _labels in list(USER_LABELS.items()):
    USER_LABELS[(_b, _a)] = [(_tid + 1, _label, _every) for _tid, _label, _every in _labels]

# Stage properties: their history walks the pipeline in order (see data.ObjectTable.history);
# the values listed as lost are reached from an earlier open stage.
STAGE_PROPERTIES = {"dealstage": {"closedlost"}, "hs_pipeline_stage": {"unqualified-stage-id"}}
DEAL_STAGE_LABELS = {"appointmentscheduled": "Appointment scheduled",
                     "qualifiedtobuy": "Qualified to buy",
                     "presentationscheduled": "Presentation scheduled",
                     "closedwon": "Closed won", "closedlost": "Closed lost"}
TICKET_STAGE_LABELS = {"1": "New", "2": "Waiting on contact", "3": "Waiting on us", "4": "Closed"}

# Custom object schemas: each account gets one or two of these (picked from its seed). Property
# tuples as in OBJECTS; the first property is the primary display property.
CUSTOM_OBJECT_POOL = {
    "cars": ("Car", [("vin", "string", "text", "sku"), ("model", "string", "text", "product"),
                     ("year", "number", "number", "int:1995:2026"),
                     ("fuel", "enumeration", "select", "enum:petrol,diesel,electric,hybrid")]),
    "pets": ("Pet", [("pet_name", "string", "text", "first_name"),
                     ("species", "enumeration", "select", "enum:dog,cat,rabbit,parrot"),
                     ("born_on", "date", "date", "date"), ("vaccinated", "bool", "booleancheckbox", "bool")]),
    "projects": ("Project", [("project_name", "string", "text", "deal"),
                             ("budget", "number", "number", "money"),
                             ("due_at", "datetime", "date", "datetime"),
                             ("status", "enumeration", "radio", "enum:planned,active,done")]),
    "vendors": ("Vendor", [("vendor_name", "string", "text", "company"),
                           ("website", "string", "text", "domain"),
                           ("rating", "number", "number", "int:1:6"),
                           ("vendor_phone", "phone_number", "phonenumber", "phone_number")]),
    "shipments": ("Shipment", [("tracking_number", "string", "text", "sku"),
                               ("shipped_at", "datetime", "date", "datetime"),
                               ("weight_kg", "number", "number", "int:1:900"),
                               ("carrier", "enumeration", "select", "enum:UPS,FEDEX,DHL,USPS")]),
}
CUSTOM_OBJECT_COMMON = [("hs_createdate", "datetime", "date", "created"),
                        ("hs_lastmodifieddate", "datetime", "date", "updated")]

# Custom property per HubSpot property type, added to every object of every account.
CUSTOM_TYPES = [("string", "text"), ("number", "number"), ("date", "date"),
                ("datetime", "date"), ("enumeration", "checkbox"), ("bool", "booleancheckbox"),
                ("phone_number", "phonenumber")]


def canonical(name: str) -> str | None:
    return ALIASES.get(name)
