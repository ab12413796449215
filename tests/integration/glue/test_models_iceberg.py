"""The analyst models over real curated Iceberg tables: raw Airbyte files as the connector writes
them (CRM objects with associations, property history, engagements, email events, campaigns),
the curate job (Spark, Iceberg), then `./dev query`'s reader (pyiceberg + DuckDB) on the views.
What tests/unit/glue/test_models.py checks on Arrow tables, here on what the job really writes
(record_json's timestamp format, the map and list types, labels joined into deals)."""
import datetime as dt

import pytest
from conftest import T0

from hubcurate import job
from local_stack import lake_query
from local_stack import raw_lake as r

DAY = 86_400_000
HISTORY = {"type": "object", "properties": {
    "updatedByUserId": {"type": ["null", "number"]},
    "timestamp": {"type": ["null", "string"], "format": "date-time"},
    "property": {"type": ["null", "string"]}, "dealId": {"type": ["null", "string"]},
    "sourceType": {"type": ["null", "string"]}, "value": {"type": ["null", "string"]},
    "archived": {"type": ["null", "boolean"]}}}
EVENTS = {"type": "object", "properties": {
    "id": {"type": ["null", "string"]}, "emailCampaignId": {"type": ["null", "integer"]},
    "type": {"type": ["null", "string"]}, "recipient": {"type": ["null", "string"]},
    "created": {"type": ["null", "integer"]}}}
CAMPAIGNS = {"type": "object", "properties": {
    "id": {"type": ["null", "integer"]}, "name": {"type": ["null", "string"]},
    "subject": {"type": ["null", "string"]}, "lastUpdatedTime": {"type": ["null", "integer"]}}}
CALLS = r.crm_stream_schema({"hs_timestamp": "datetime", "hs_lastmodifieddate": "datetime"},
                            ["contacts", "companies", "deals", "tickets"])


def _history(deal, stage, ms):
    return {"updatedByUserId": 7.0, "timestamp": r._iso(ms), "property": "dealstage",
            "dealId": str(deal), "sourceType": "CRM_UI", "value": stage, "archived": False}


@pytest.mark.slow
def test_models_over_the_curated_iceberg_tables(spark, lake):
    d, b, root = lake
    for hub in (1, 2):   # the same record ids in both accounts, as in the sandbox
        r.write_account(d, b, hub, {"contacts": 3, "companies": 3, "deals": 3}, T0,
                        files_per_stream=1)
    stages = [_history(1, "appointmentscheduled", T0 - 4 * DAY),
              _history(1, "appointmentscheduled", T0 - 3 * DAY),   # set again: one visit
              _history(1, "closedwon", T0 - DAY // 2)]
    r.write_airbyte_parquet(d, b, 1, "deals_property_history", stages, T0, 0, 1, HISTORY)
    r.write_airbyte_parquet(d, b, 2, "deals_property_history",
                            [_history(1, "appointmentscheduled", T0 - 2 * DAY)], T0, 0, 1, HISTORY)
    calls = [r.crm_record(600 + k, {"hs_timestamp": r._iso(T0 - k * DAY)}, r._iso(T0),
                          contacts=["1"], companies=["1"], deals=["1"], tickets=[])
             for k in range(2)]
    r.write_airbyte_parquet(d, b, 1, "engagements_calls", calls, T0, 0, 1, CALLS)
    for n, kind in enumerate(("emails", "meetings", "notes", "tasks")):  # every activity table
        rec = r.crm_record(700 + n, {"hs_timestamp": r._iso(T0 - 5 * DAY)}, r._iso(T0),
                           contacts=["1"] if kind == "meetings" else [], companies=[], deals=[],
                           tickets=[])
        r.write_airbyte_parquet(d, b, 1, f"engagements_{kind}", [rec], T0, 0, 1, CALLS)
    events = [{"id": f"e{k}", "emailCampaignId": 5, "type": t, "recipient": who,
               "created": T0 + k} for k, (t, who) in enumerate(
                   [("SENT", "a"), ("DELIVERED", "a"), ("OPEN", "a"), ("OPEN", "a"),
                    ("SENT", "b"), ("CLICK", "b")])]
    r.write_airbyte_parquet(d, b, 1, "email_events", events, T0, 0, 1, EVENTS)
    r.write_airbyte_parquet(d, b, 1, "campaigns", [{"id": 5, "name": "Spring", "subject": "Hi",
                                                    "lastUpdatedTime": T0}], T0, 0, 1, CAMPAIGNS)
    lines = {("contacts", "companies"): [r.label_line("contacts", 1, "companies", 1, 1),
                                         r.label_line("contacts", 1, "companies", 1, 279),
                                         r.label_line("contacts", 1, "companies", 1, 9, "Billing")],
             ("deals", "contacts"): [r.label_line("deals", 1, "contacts", 2, 4, "Decision maker")],
             ("calls", "contacts"): [r.label_line("calls", 600, "contacts", 1, 194, "Attendee")]}
    r.write_labels_snapshot(d, b, 1, "20261207T060000Z-0a1b2c3d", lines)  # account 1 only
    job.run(spark, root, "ALL", run_id="run-1")

    def q(sql):
        return lake_query.query(sql, root)[1]

    # raw_lake's deals: i % 3 == 0 is closedwon (hs_is_closed_won), the others appointment
    assert q("SELECT hub_id, deal_id, stage_label, pipeline_label, is_closed, is_won, owner_name "
             "FROM deals_enriched WHERE deal_id IN ('1', '3') ORDER BY 1, 2") == [
        ("1", "1", "Appointment Scheduled", "Sales Pipeline", False, False, "Owner1 Smith"),
        ("1", "3", "Closed Won", "Sales Pipeline", True, True, "Owner0 Smith"),
        ("2", "1", "Appointment Scheduled", "Sales Pipeline", False, False, "Owner1 Smith"),
        ("2", "3", "Closed Won", "Sales Pipeline", True, True, "Owner0 Smith")]
    t0 = dt.datetime.fromtimestamp(T0 / 1000, dt.UTC).replace(tzinfo=None)
    assert q("SELECT hub_id, deal_id, stage_id, stage_label, entered_at, exited_at, "
             "days_in_stage FROM deal_stage_history ORDER BY 1, 5") == [
        ("1", "1", "appointmentscheduled", "Appointment Scheduled", t0 - dt.timedelta(days=4),
         t0 - dt.timedelta(days=0.5), 3.5),
        ("1", "1", "closedwon", "Closed Won", t0 - dt.timedelta(days=0.5), None, None),
        ("2", "1", "appointmentscheduled", "Appointment Scheduled", t0 - dt.timedelta(days=2),
         None, None)]
    # associations as the connector lists them (raw_lake: contact i -> company i, deal i ->
    # contacts i and i + 1 and company i), never across accounts
    assert q("SELECT hub_id, count(*) FROM contact_company_associations GROUP BY 1 ORDER BY 1") \
        == [("1", 3), ("2", 3)]
    assert q("SELECT deal_id, contact_id FROM deal_contact_associations WHERE hub_id = '1' "
             "ORDER BY 1, 2") == [("1", "1"), ("1", "2"), ("2", "2"), ("2", "3"), ("3", "3")]
    # the reader's labels on their pairs, from the real table; pairs without: empty, unknown
    assert q("SELECT hub_id, company_id, labels, association_type_ids, is_primary FROM "
             "contact_company_associations WHERE contact_id = '1' ORDER BY 1") == [
        ("1", "1", ["Billing"], [1, 9, 279], True), ("2", "1", [], [], None)]
    assert q("SELECT contact_id, labels FROM deal_contact_associations WHERE hub_id = '1' "
             "AND deal_id = '1' ORDER BY 1") == [("1", []), ("2", ["Decision maker"])]
    assert q("SELECT object_type, labels FROM engagement_associations WHERE hub_id = '1' AND "
             "engagement_id = '600' ORDER BY 1") == [("company", []), ("contact", ["Attendee"]),
                                                    ("deal", [])]
    assert q("SELECT contact_id, engagements, calls, last_engaged_at FROM "
             "contact_engagement_summary WHERE hub_id = '1' ORDER BY 1") == [
        ("1", 3, 2, t0), ("2", 0, 0, None), ("3", 0, 0, None)]
    assert q("SELECT hub_id, campaign_id, campaign_name, events, sent, opens, clicks, recipients, "
             "unique_opens FROM email_campaign_performance") == [
        ("1", "5", "Spring", 6, 2, 2, 1, 2, 1)]
