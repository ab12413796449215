"""Stream selection (issue 12 §1): every discovered stream in its best sync mode by default,
AIRBYTE_STREAMS as an include or exclude rule checked when settings load."""
from __future__ import annotations

import os

import pytest

from hubspot_app.airbyte.spec import (
    ProvisionFailed,
    connection_drift,
    connection_settings,
    desired_streams,
)
from hubspot_app.airbyte.streams import StreamRuleError, parse_rule, select, streams_diff
from hubspot_app.config import get_settings, reset_settings

# StreamProperties as Airbyte answers them with an S3 destination (StreamsController order).
INC = ["full_refresh_append", "full_refresh_overwrite", "incremental_append"]
FULL = ["full_refresh_append", "full_refresh_overwrite"]
PROPS = [{"streamName": "contacts", "syncModes": INC},
         {"streamName": "deals_archived", "syncModes": INC},
         {"streamName": "marketing_emails", "syncModes": FULL},
         {"streamName": "cars", "syncModes": INC}]          # a custom object


def test_default_is_every_discovered_stream_in_its_best_mode():
    got = select(parse_rule([]), PROPS)
    assert got.streams == [{"name": "cars", "syncMode": "incremental_append"},
                           {"name": "contacts", "syncMode": "incremental_append"},
                           {"name": "deals_archived", "syncMode": "incremental_append"},
                           {"name": "marketing_emails", "syncMode": "full_refresh_overwrite"}]


def test_exclusions_and_inclusions():
    assert [s["name"] for s in select(parse_rule(["-cars", "-marketing_emails"]), PROPS).streams] \
        == ["contacts", "deals_archived"]
    got = select(parse_rule(["contacts:full_refresh_overwrite", "marketing_emails", "tickets"]),
                 PROPS)
    assert got.streams == [{"name": "contacts", "syncMode": "full_refresh_overwrite"},
                           {"name": "marketing_emails", "syncMode": "full_refresh_overwrite"}]
    assert got.not_discovered == ["tickets"]   # scope not granted: skipped, logged


def test_a_mode_the_stream_or_destination_cannot_do_is_refused():
    with pytest.raises(StreamRuleError, match="marketing_emails: sync mode incremental_append"):
        select(parse_rule(["marketing_emails:incremental_append"]), PROPS)
    # Without the destination Airbyte gives no syncModes: nothing is possible, say so.
    with pytest.raises(StreamRuleError, match="Airbyte offers none"):
        select(parse_rule([]), [{"streamName": "contacts"}])


@pytest.mark.parametrize("items, message", [
    (["contacts", "-deals"], "either the streams to sync, or only -exclusions"),
    (["contacts:incremental"], "'incremental' is not an Airbyte sync mode"),
    (["-deals:full_refresh_overwrite"], "an exclusion takes no sync mode"),
    (["contacts", "contacts:incremental_append"], "names 'contacts' twice"),
    (["con tacts"], "letters, digits and underscores"),
])
def test_bad_rules_are_refused_with_the_fix(items, message):
    with pytest.raises(StreamRuleError, match=message):
        parse_rule(items)


def test_settings_refuse_a_bad_rule_at_load(monkeypatch):
    for k, v in {"HUBSPOT_REDIRECT_URI": "https://x/cb", "APP_SECRET_NAME": "s",
                 "ACCOUNTS_TABLE": "a", "STATES_TABLE": "s", "KMS_KEY_ID": "k",
                 "PROVISION_QUEUE_NAME": "q", "LIFECYCLE_QUEUE_NAME": "t",
                 "UNINSTALL_AUDIT_TABLE": "u", "WEBHOOK_RECEIPTS_TABLE": "w"}.items():
        monkeypatch.setenv(k, os.environ.get(k) or v)
    monkeypatch.setenv("AIRBYTE_STREAMS", "contacts -deals")
    reset_settings()
    try:
        with pytest.raises(RuntimeError, match="AIRBYTE_STREAMS mixes .*chalice/config.json"):
            get_settings()
        monkeypatch.setenv("AIRBYTE_STREAMS", "-email_events, -subscription_changes")
        reset_settings()
        assert get_settings().airbyte.streams == ("-email_events", "-subscription_changes")
        # Everything but exclusions: Airbyte may add streams it discovers later by itself.
        assert connection_settings(get_settings(), 1)["nonBreakingSchemaUpdatesBehavior"] \
            == "propagate_fully"
        # Nothing left to sync is a permanent provisioning failure, not a silent empty sync.
        with pytest.raises(ProvisionFailed, match="leaves none"):
            desired_streams(get_settings(), [{"streamName": "email_events", "syncModes": INC}])
        monkeypatch.setenv("AIRBYTE_STREAMS", "contacts deals")
        reset_settings()
        assert connection_settings(get_settings(), 1)["nonBreakingSchemaUpdatesBehavior"] \
            == "propagate_columns"                      # an include list never grows
    finally:
        monkeypatch.undo()
        reset_settings()


def test_stream_drift_names_what_differs():
    want = [{"name": "contacts", "syncMode": "incremental_append"},
            {"name": "tickets", "syncMode": "incremental_append"}]
    have = [{"name": "contacts", "syncMode": "full_refresh_append"},
            {"name": "owners", "syncMode": "full_refresh_overwrite"}]
    assert streams_diff(have, want) == "missing: tickets; not wanted: owners; other mode: contacts"
    assert streams_diff(want, want) is None
    conn = {"sourceId": "s", "destinationId": "d", "namespaceDefinition": "n",
            "namespaceFormat": "1", "status": "active", "schedule": {"scheduleType": "manual"},
            "configurations": {"streams": have}}
    desired = {"namespaceDefinition": "n", "namespaceFormat": "1", "status": "active",
               "schedule": {"scheduleType": "manual"}, "nonBreakingSchemaUpdatesBehavior": None}
    # Reconcile has no discovery: it compares with what the account recorded.
    assert connection_drift(conn, desired, "s", "d", ["contacts:full_refresh_append",
                                                      "owners:full_refresh_overwrite"]) == []
    assert connection_drift(conn, desired, "s", "d", ["contacts:incremental_append"]) == [
        "streams (not wanted: owners; other mode: contacts)"]
