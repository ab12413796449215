"""Job arguments resolved as awsglue.utils.getResolvedOptions resolves them (no Spark here)."""
import sys
import types

import pytest

from hubcurate import glue_compat
from hubcurate.glue_compat import GlueArgumentError, local_resolved_options, resolve_args

ARGV = ["script.py", "--JOB_NAME", "curate", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1",
        "--job-bookmark-option", "job-bookmark-disable", "--TempDir", "s3://b/tmp/",
        "--lake_root", "s3://lake/", "--hub_ids", "1,2", "--enable-metrics", "true"]


def test_requested_names_with_glue_reserved_and_unknown_arguments():
    got = local_resolved_options(ARGV, ["lake_root", "hub_ids"])
    assert got["lake_root"] == "s3://lake/" and got["hub_ids"] == "1,2"
    assert got["JOB_RUN_ID"] == "jr_1" and got["TempDir"] == got["RedshiftTempDir"] == "s3://b/tmp/"
    assert got["job_bookmark_option"] == "job-bookmark-disable"
    assert "enable_metrics" not in got and "JOB_NAME" not in got  # only what was asked for


def test_a_missing_required_argument_is_an_error_not_a_default():
    with pytest.raises(GlueArgumentError, match="required: --lake_root"):
        local_resolved_options(["s.py", "--hub_ids", "1"], ["lake_root", "hub_ids"])


def test_a_flag_without_its_value_is_an_error():
    # today's hand parser took the next flag as the value (--fail_at = "--hub_ids")
    with pytest.raises(GlueArgumentError, match="expected one argument"):
        local_resolved_options(["s.py", "--fail_at", "--hub_ids", "1"], ["fail_at", "hub_ids"])
    with pytest.raises(GlueArgumentError, match="expected one argument"):
        local_resolved_options(["s.py", "--lake_root"], ["lake_root"])


def test_equals_form_empty_value_and_bookmark_defaults():
    got = local_resolved_options(["s.py", "--lake_root=file:///x/", "--fail_at", ""],
                                 ["lake_root", "fail_at"])
    assert got["lake_root"] == "file:///x/" and got["fail_at"] == ""
    assert got["job_bookmark_option"] == "job-bookmark-disable"  # Glue's default
    with pytest.raises(GlueArgumentError, match="invalid choice"):
        local_resolved_options(["s.py", "--job-bookmark-option", "on"], [])
    with pytest.raises(RuntimeError, match="reserved"):
        local_resolved_options(["s.py"], ["JOB_RUN_ID"])


def test_optional_arguments_default_only_when_absent():
    args = resolve_args(["s.py", "--lake_root", "s3://l/", "--run_id", "r1"], ["lake_root"],
                        {"run_id": "", "hub_ids": "ALL"})
    assert args["run_id"] == "r1" and args["hub_ids"] == "ALL" and args["lake_root"] == "s3://l/"
    with pytest.raises(GlueArgumentError):  # an optional one given without a value: refused
        resolve_args(["s.py", "--lake_root", "s3://l/", "--run_id"], ["lake_root"], {"run_id": ""})


def test_awsglue_getresolvedoptions_is_used_when_importable(monkeypatch):
    calls = []

    def fake(argv, names):
        calls.append((list(argv), list(names)))
        return {n: "from-glue" for n in names} | {"JOB_RUN_ID": "jr_9"}

    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = fake
    monkeypatch.setitem(sys.modules, "awsglue", types.ModuleType("awsglue"))
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)
    args = resolve_args(["s.py", "--lake_root", "x", "--hub_ids", "1"], ["lake_root"],
                        {"hub_ids": "ALL", "run_id": ""})
    assert calls == [(["s.py", "--lake_root", "x", "--hub_ids", "1"], ["lake_root", "hub_ids"])]
    assert args == {"lake_root": "from-glue", "hub_ids": "from-glue", "run_id": "",
                    "JOB_RUN_ID": "jr_9"}


def test_the_job_script_requires_lake_root():
    sys.path.insert(0, str(glue_compat.__file__).rsplit("/hubcurate/", 1)[0])
    import curate_job
    with pytest.raises(GlueArgumentError, match="lake_root"):
        curate_job.main(["--hub_ids", "1"], spark=object())
