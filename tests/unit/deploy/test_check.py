"""`python -m deploy check`: placeholders refused with the setting to change; a filled stage passes."""
from __future__ import annotations

import copy

import pytest

from deploy import check, infra
from deploy.__main__ import main


def _filled(stage: str) -> dict:
    config = copy.deepcopy(infra.load_config())
    env = config["stages"][stage]["environment_variables"]
    for var, value in list(env.items()):
        env[var] = value.replace("example.com", "hubspot.acme-data.io").replace(
            "123456789012", "210987654321")
    env["HUBSPOT_APP_ID"] = "4242424"
    return config


@pytest.mark.parametrize("stage", ("dev", "prod"))
def test_a_correctly_filled_stage_passes(stage):
    assert check.problems(stage, _filled(stage)) == []
    assert check.problems(stage, _filled(stage), chalice_deploy=True) == []


@pytest.mark.parametrize("stage", ("dev", "prod"))
def test_the_repository_placeholders_are_refused_naming_the_setting(stage):
    found = "\n".join(check.problems(stage))
    assert f"stages.{stage}.environment_variables.HUBSPOT_REDIRECT_URI" in found
    assert "example.com" in found
    assert "HUBSPOT_APP_ID" in found
    # The packaged template fills ALERTS_TOPIC_ARN and AIRBYTE_S3_ROLE_ARN itself ...
    assert "ALERTS_TOPIC_ARN" not in found
    # ... chalice deploy passes them through as written.
    assert "ALERTS_TOPIC_ARN" in "\n".join(check.problems(stage, chalice_deploy=True))


def test_empty_secret_names_and_ungranted_webhook_secret_are_refused():
    config = _filled("dev")
    env = config["stages"]["dev"]["environment_variables"]
    env["AIRBYTE_SECRET_NAME"] = ""
    env["ALERT_WEBHOOK_SECRET_NAME"] = "my-chat-webhook"
    found = "\n".join(check.problems("dev", config))
    assert "stages.dev.environment_variables.AIRBYTE_SECRET_NAME" in found and "is empty" in found
    assert "hubspot-pipeline/dev/alert-webhook" in found


def test_cli_exit_codes_and_package_refuses_first(capsys):
    assert main(["check", "--stage", "dev"]) == 2
    err = capsys.readouterr().err
    assert "HUBSPOT_REDIRECT_URI" in err
    assert main(["package", "--stage", "dev"]) == 2        # refused before chalice package runs
    assert "nothing packaged" in capsys.readouterr().err


def test_api_limits_aws_would_refuse_are_named():
    config = _filled("prod")
    env = config["stages"]["prod"]["environment_variables"]
    env["INSTALL_WAF_RATE_LIMIT"] = "5"
    env["INSTALL_THROTTLE_RATE_LIMIT"] = "500"
    found = "\n".join(check.problems("prod", config))
    assert "INSTALL_WAF_RATE_LIMIT='5'" in found and "at least 10" in found
    assert "INSTALL_THROTTLE_RATE_LIMIT" in found
