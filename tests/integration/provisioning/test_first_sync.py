"""The first sync of a new account starts at the end of provisioning (Airbyte POST /jobs), once:
not again on a re-delivered message or after a lost answer, and a running sync counts as started."""
from __future__ import annotations

import pytest

from hubspot_app.airbyte.client import AirbytePermanentError, AirbyteTransientError
from hubspot_app.lifecycle.first_sync import start_first_sync
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


class _Stub:
    """An Airbyte client answering GET /jobs with `jobs` and POST /jobs with `post`."""

    def __init__(self, jobs=(), post=None):
        self.jobs, self.post, self.calls = list(jobs), post, []

    def request(self, method, path, json_body=None, params=None):
        self.calls.append((method, path, json_body, params))
        if method == "GET":
            return {"data": self.jobs}
        if isinstance(self.post, Exception):
            raise self.post
        return self.post


def test_an_existing_job_means_no_new_one():
    stub = _Stub(jobs=[{"jobId": 5, "status": "succeeded", "jobType": "sync"}])
    line = start_first_sync(stub, "c-1", 1, last_try=False)
    assert line == "first sync already started (job 5, succeeded)"
    assert [c[0] for c in stub.calls] == ["GET"]
    assert stub.calls[0][3] == {"connectionId": "c-1", "jobType": "sync", "limit": 1}


def test_the_request_is_the_specs_job_create_request():
    stub = _Stub(post={"jobId": 9, "status": "pending", "jobType": "sync"})
    assert start_first_sync(stub, "c-1", 1, last_try=False) == "first sync started (job 9)"
    assert stub.calls[1][:3] == ("POST", "/jobs", {"connectionId": "c-1", "jobType": "sync"})


@pytest.mark.parametrize("exc", [
    AirbyteTransientError("POST /jobs: HTTP 409 try-again-later A sync is already running for: c",
                          409, "try-again-later"),
    AirbytePermanentError("POST /jobs: HTTP 409 state-conflict A sync is already running for: c",
                          409, "state-conflict"),
])
def test_a_sync_already_running_counts_as_started(exc):
    # A scheduled sync can start between our GET and POST; Airbyte then answers 409.
    line = start_first_sync(_Stub(post=exc), "c-1", 1, last_try=False)
    assert line.startswith("first sync already running")


def test_a_transient_failure_retries_the_message_except_on_its_last_try():
    down = AirbyteTransientError("POST /jobs: HTTP 503", 503, "service-unavailable",
                                 ambiguous=True)
    with pytest.raises(AirbyteTransientError):
        start_first_sync(_Stub(post=down), "c-1", 1, last_try=False)
    line = start_first_sync(_Stub(post=down), "c-1", 1, last_try=True)
    assert "first sync not started" in line and "the schedule runs it" in line


def test_a_permanent_refusal_does_not_fail_the_provisioning():
    refused = AirbytePermanentError("POST /jobs: HTTP 403 forbidden", 403, "forbidden")
    line = start_first_sync(_Stub(post=refused), "c-1", 1, last_try=False)
    assert "first sync not started" in line and "403" in line
