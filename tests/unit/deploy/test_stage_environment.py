"""The one rule for a stage's environment (hubspot_app.config.stage_environment), shared by the
deploy tooling, the local stack and `ops --stage`."""
import json

import pytest

from hubspot_app.config import stage_environment

CONFIG = {"environment_variables": {"A": "top", "B": "top"},
          "stages": {"dev": {"environment_variables": {"B": "dev", "C": "dev"}}, "prod": {}}}


def test_the_stage_overrides_the_top_level():
    assert stage_environment("dev", CONFIG) == {"A": "top", "B": "dev", "C": "dev"}
    assert stage_environment("prod", CONFIG) == {"A": "top", "B": "top"}


def test_an_unknown_stage_names_the_stages_there_are():
    with pytest.raises(KeyError, match="'qa' is not in .chalice/config.json.*dev, prod"):
        stage_environment("qa", CONFIG)


def test_ops_deploy_and_local_stack_read_the_same_environment():
    from deploy import infra
    from hubspot_app.ops.cli import _stage_env
    from local_stack.stack import ROOT
    from local_stack.stack import stage_environment as local_env

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for stage in config["stages"]:
        expected = stage_environment(stage, config)
        assert infra.stage_env(stage) == expected and local_env(stage) == expected
        if not expected.get("LAKE_BUCKET_ACCOUNT_REGION_SUFFIX", "").lower() == "true":
            assert _stage_env(stage) == expected
