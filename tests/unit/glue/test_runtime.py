"""The Glue job's declared runtime, the version table and the local PySpark/Python agree."""
import json
import platform
from pathlib import Path

import pyspark

from hubcurate import runtime

ROOT = Path(__file__).resolve().parents[3]


def _declared(stage):
    tpl = json.loads((ROOT / f".chalice/merge-template-{stage}.json").read_text())
    jobs = [r for r in tpl["Resources"].values() if r.get("Type") == "AWS::Glue::Job"]
    assert len(jobs) == 1
    return jobs[0]["Properties"]


def test_declared_glue_version_matches_local_spark_and_python():
    for stage in ("dev", "prod"):
        version = _declared(stage)["GlueVersion"]
        assert runtime.mismatches(version, pyspark.__version__, platform.python_version()) == []


def test_a_disagreeing_runtime_is_named():
    assert runtime.mismatches("4.0", "3.5.9", "3.11.2") == [
        "local Spark 3.5.9 is not Glue 4.0's 3.3.0 line",
        "local Python 3.11.2 is not Glue 4.0's 3.10"]
    assert runtime.mismatches("9.9", "3.5.9", "3.11.2")


def test_bookmarks_are_switched_off():
    # the job keeps its own record of processed files; Glue bookmarks would need
    # DynamicFrames with transformation_ctx, which the job does not use
    for stage in ("dev", "prod"):
        args = _declared(stage)["DefaultArguments"]
        assert args["--job-bookmark-option"] == "job-bookmark-disable"
