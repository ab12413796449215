"""The first sync's start on a stub Airbyte client (through the provisioner on the local stack:
tests/integration/provisioning/test_first_sync.py)."""
from __future__ import annotations

import pytest

from hubspot_app.airbyte.client import AirbytePermanentError, AirbyteTransientError
from hubspot_app.lifecycle.first_sync import start_first_sync


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
