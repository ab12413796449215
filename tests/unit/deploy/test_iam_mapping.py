"""The IAM check's reports without the evaluator process (the evaluator's decisions:
tests/integration/deploy/test_iam_calls.py)."""
from __future__ import annotations

import pytest

from deploy import iam_check
from deploy.iam_check import Call


@pytest.fixture(scope="module")
def evaluator():
    ev = iam_check.Evaluator()
    yield ev
    ev.close()


def test_an_unmapped_operation_is_reported_not_skipped(evaluator):
    call = Call("api_handler", "s3", "PutBucketAcl", [], "us-east-1", "123456789012",
                error="no IAM mapping for s3:PutBucketAcl: add it to deploy/iam_check.py needs_for()")
    (problem,) = iam_check.check([call], evaluator)
    assert "PutBucketAcl" in problem and "needs_for" in problem
