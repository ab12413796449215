"""Parts of the operators' overview on in-process moto (the CLI on the local stack:
tests/integration/provisioning/test_ops_overview.py)."""
from __future__ import annotations


def test_stage_settings_name_the_lake_bucket_as_the_template_does(monkeypatch):
    from moto import mock_aws

    from deploy import infra
    from hubspot_app.ops.cli import _stage_env

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    with mock_aws():
        env = _stage_env("dev")
    base = infra.stage_env("dev")["LAKE_BUCKET"]
    assert env["LAKE_BUCKET"] == f"{base}-123456789012-eu-west-1"   # moto's account id
    assert _stage_env("local")["LAKE_BUCKET"] == infra.stage_env("local")["LAKE_BUCKET"]


def test_last_curated_run_per_account_from_the_job_history():
    from datetime import UTC, datetime, timedelta

    from hubspot_app.ops.overview import curated_at_by_hub
    t0 = datetime(2026, 12, 6, tzinfo=UTC)
    runs = [{"JobRunState": "SUCCEEDED", "CompletedOn": t0, "Arguments": {"--hub_ids": "1,2"}},
            {"JobRunState": "SUCCEEDED", "CompletedOn": t0 + timedelta(hours=1)},  # ALL
            {"JobRunState": "FAILED", "CompletedOn": t0 + timedelta(hours=2),
             "Arguments": {"--hub_ids": "1"}},
            {"JobRunState": "SUCCEEDED", "CompletedOn": t0 + timedelta(hours=3),
             "Arguments": {"--purge_hub_ids": "2"}},
            {"JobRunState": "SUCCEEDED", "CompletedOn": t0 + timedelta(hours=4),
             "Arguments": {"--mode": "maintenance"}},
            {"JobRunState": "RUNNING", "Arguments": {"--hub_ids": "3"}}]

    class Glue:
        def get_paginator(self, name):
            assert name == "get_job_runs"
            return self

        def paginate(self, JobName, PaginationConfig):
            assert JobName == "curate" and PaginationConfig["MaxItems"] == 1000
            return [{"JobRuns": runs[:3]}, {"JobRuns": runs[3:]}]
    assert curated_at_by_hub(Glue(), "curate") == {1: t0, 2: t0, "ALL": t0 + timedelta(hours=1)}
