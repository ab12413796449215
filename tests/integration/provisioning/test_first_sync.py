"""The first sync of a new account starts at the end of provisioning (Airbyte POST /jobs), once:
not again on a re-delivered message or after a lost answer, and a running sync counts as started."""
from __future__ import annotations

from hubspot_app.models import AccountStatus


def _sync_jobs(harness, connection_id: str) -> list[dict]:
    with harness.emu.store.lock:
        return [dict(j) for j in harness.emu.store.jobs.values()
                if j["connectionId"] == connection_id and j["jobType"] == "sync"]


def test_a_new_account_syncs_at_once_and_only_once(harness):
    harness.install(7001)
    report = harness.deliver()
    assert report.succeeded >= 1 and not report.errors
    account = harness.account(7001)
    [job] = _sync_jobs(harness, account.airbyte_connection_id)
    assert f"first sync started (job {job['jobId']})" in account.provisioning_history[-1].detail
    # A re-delivered install message (reason "install" again, verify on): no second job.
    harness.send(7001, verify=True)
    harness.deliver()
    assert len(_sync_jobs(harness, account.airbyte_connection_id)) == 1


def test_a_lost_answer_to_the_job_start_is_not_repeated(harness):
    # Airbyte starts the job, the answer never arrives: the message returns, and the retry
    # finds the job through GET /jobs?connectionId= instead of starting another.
    harness.fault(mode="lose_response_after_create", path_prefix="/v1/jobs", method="POST")
    harness.install(7002)
    harness.deliver()
    account = harness.account(7002)
    assert account.status == AccountStatus.ACTIVE
    assert len(_sync_jobs(harness, account.airbyte_connection_id)) == 1
    details = [e.detail or "" for e in account.provisioning_history]
    assert any("first sync already started" in d for d in details), details


def test_a_connection_recreated_by_a_repair_syncs_at_once(harness):
    from hubspot_app.runtime import services

    harness.install(7003)
    harness.deliver()
    old = harness.account(7003).airbyte_connection_id
    services().airbyte().delete_connection(old)   # deleted in Airbyte
    harness.send(7003, verify=True)                                 # reconcile's repair
    harness.deliver()
    new = harness.account(7003).airbyte_connection_id
    assert new != old
    assert len(_sync_jobs(harness, new)) == 1
    assert "first sync started" in harness.account(7003).provisioning_history[-1].detail


