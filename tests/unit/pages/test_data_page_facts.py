"""What the data page says, built from the catalog and the stage settings (the page served and seen
in Chromium, and the installed connector's scopes: tests/integration/pages/test_data_page.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubspot_app import config, data_catalog, data_page


def test_catalog_streams_and_tables_are_the_curate_jobs():
    from hubcurate import catalog

    assert set(data_catalog.STREAM_SCOPES) == set(catalog.KNOWN_STREAMS)
    for stream in data_catalog.STREAM_SCOPES:
        assert data_catalog.table_of(stream) == catalog.table_of(stream)


def test_every_requested_scope_has_a_row_and_reads_something_or_says_why():
    env = _stage_env("prod")
    required, optional = env["HUBSPOT_SCOPES"].split(), env["HUBSPOT_OPTIONAL_SCOPES"].split()
    rows = data_catalog.rows(required, optional)
    assert [r.scope for r in rows] == required + optional
    assert all(r.required for r in rows[:len(required)]) and not any(r.required for r in rows[len(required):])
    for r in rows:
        assert r.streams or r.note, f"{r.scope} reads nothing and the page does not say why"
    # The required scopes alone give the core CRM streams (what an install without any
    # optional scope syncs).
    core = data_catalog.streams_for(required)
    assert {"contacts", "companies", "deals", "deals_archived", "owners", "engagements"} <= core
    assert "tickets" not in core and "tickets" in data_catalog.streams_for(required + ["tickets"])


def _stage_env(stage):
    from deploy import infra

    return infra.stage_env(stage)


# -- the facts the page states are the running code's --------------------------------------------
@pytest.mark.parametrize("cron, text", [
    ("0 0 */6 * * ?", "every 6 hours, at 00:00, 06:00, 12:00, 18:00 UTC"),
    ("0 30 2 * * ?", "once a day, at 02:30 UTC"),
    ("0 15 * * * ?", "every hour at minute 15"),
    ("0 0 8,20 * * ?", "2 times a day, at 08:00, 20:00 UTC"),
    ("0 0 12 ? * MON-FRI", "on the schedule <code>0 0 12 ? * MON-FRI</code> (Quartz cron, UTC)"),
    ("", "only when an operator starts a sync (the connections have no schedule)"),
])
def test_schedule_in_words(cron, text):
    assert data_page.schedule_text(cron) == text


def _stage_settings(mp: pytest.MonkeyPatch, stage: str, **overrides: str):
    """The settings a function of `stage` runs with (config.py reads them)."""
    from deploy import infra

    for name, value in {**infra.stage_env(stage), **overrides}.items():
        mp.setenv(name, value)
    config.reset_settings()
    return config.get_settings()


def test_trigger_window_and_purge_retention_are_the_ones_in_force():
    import curate_job

    import app as chalice_app
    from deploy import infra

    with pytest.MonkeyPatch.context() as mp:
        window = _stage_settings(mp, "dev").glue.trigger_window_seconds
    config.reset_settings()
    assert window == chalice_app.GLUE_TRIGGER_WINDOW_SECONDS
    # The purge run's retention is the template's --purge_retention_hours (from
    # LAKE_SNAPSHOT_RETENTION_HOURS), else the job's default; the uninstall passes none.
    import hubspot_app.lifecycle.uninstall as uninstall
    assert "purge_retention" not in Path(uninstall.__file__).read_text()
    assert float(curate_job.OPTIONAL["purge_retention_hours"]) == data_page.JOB_DEFAULT_RETENTION_HOURS
    for stage in infra.STAGES:
        env = infra.stage_env(stage)
        jobs = [r["Properties"]["DefaultArguments"] for r in
                json.loads(infra.merge_template_path(stage).read_text())["Resources"].values()
                if r.get("Type") == "AWS::Glue::Job"]
        for args in jobs:
            with pytest.MonkeyPatch.context() as mp:
                settings = _stage_settings(mp, stage, LAKE_SNAPSHOT_RETENTION_HOURS=env.get(
                    "LAKE_SNAPSHOT_RETENTION_HOURS", ""))
                assert settings.lake.snapshot_retention_hours == float(args.get(
                    "--purge_retention_hours", curate_job.OPTIONAL["purge_retention_hours"]))
            config.reset_settings()


@pytest.mark.parametrize("expr, text, hours", [
    ("cron(30 3 * * ? *)", "the daily maintenance run (03:30 UTC)", 24.0),
    ("cron(0 */6 * * ? *)", "the maintenance run (<code>cron(0 */6 * * ? *)</code>, UTC)", None),
    ("", "no scheduled maintenance run", None),
])
def test_maintenance_in_words(expr, text, hours):
    assert data_page.maintenance_text(expr) == (text, hours)


def test_the_page_says_data_stays_when_the_stage_does_not_purge(monkeypatch):
    # The page's switch is the uninstaller's (settings.lifecycle), read from the stage.
    settings = _stage_settings(monkeypatch, "local", UNINSTALL_PURGE_S3="false")
    assert data_page.facts(settings, 5).purge is False
    settings = _stage_settings(monkeypatch, "local", UNINSTALL_PURGE_S3="true",
                               LAKE_SNAPSHOT_RETENTION_HOURS="72", GLUE_DATABASE="db")
    assert (data_page.facts(settings, 5).purge, data_page.facts(settings, 5).retention_hours,
            data_page.facts(settings, 5).database) == (True, 72.0, "db")
    monkeypatch.undo()
    config.reset_settings()
    base = dict(required=("oauth",), optional=(), schedule="every hour at minute 0",
                trigger_window_seconds=60, journal_poll_minutes=5, region="eu-west-1",
                database="db", base="/api", maintenance="the daily maintenance run (03:30 UTC)",
                maintenance_interval_hours=24.0)
    off = data_page.data_page(data_page.Facts(purge=False, retention_hours=72, **base)).body
    on = data_page.data_page(data_page.Facts(purge=True, retention_hours=72, **base)).body
    now = data_page.data_page(data_page.Facts(purge=True, retention_hours=0, **base)).body
    assert 'data-purge="off"' in off and "<strong>not</strong> deleted" in off
    assert 'data-purge="on"' in on and 'data-retention-hours="72"' in on and "not</strong>" not in on
    assert "kept 72 hours" in on and "within 96 hours" in on
    assert 'data-retention-hours="0"' in now and "removed at once" in now
