"""The throttling and WAF settings are checked when the template is generated."""
from __future__ import annotations

import pytest

from deploy import api_limits

BASE = {"API_THROTTLE_RATE_LIMIT": "50", "API_THROTTLE_BURST_LIMIT": "100",
        "INSTALL_THROTTLE_RATE_LIMIT": "2", "INSTALL_THROTTLE_BURST_LIMIT": "10"}


def test_resource_paths_are_encoded_as_api_gateway_wants():
    assert api_limits.resource_path("/install") == "/~1install"
    assert api_limits.resource_path("/oauth/callback") == "/~1oauth~1callback"


@pytest.mark.parametrize("change, named", [
    ({"INSTALL_THROTTLE_RATE_LIMIT": "80"}, "INSTALL_THROTTLE_RATE_LIMIT"),
    ({"INSTALL_THROTTLE_BURST_LIMIT": "500"}, "INSTALL_THROTTLE_BURST_LIMIT"),
    ({"API_THROTTLE_RATE_LIMIT": "fast"}, "API_THROTTLE_RATE_LIMIT"),
    ({"API_THROTTLE_BURST_LIMIT": "0"}, "API_THROTTLE_BURST_LIMIT"),
    ({"API_THROTTLE_RATE_LIMIT": "20000", "INSTALL_THROTTLE_RATE_LIMIT": "1"}, "quota"),
])
def test_bad_throttling_settings_are_refused_naming_the_setting(change, named):
    with pytest.raises(ValueError, match=named):
        api_limits.throttling({**BASE, **change})


def test_defaults_apply_when_a_setting_is_empty():
    settings = api_limits.throttling({})
    assert settings[0]["ThrottlingRateLimit"] == 50 and settings[1]["ThrottlingBurstLimit"] == 10


def test_waf_is_off_when_empty_and_refuses_limits_aws_refuses():
    assert api_limits.waf({"INSTALL_WAF_RATE_LIMIT": ""}, "p", "api") == {}
    with pytest.raises(ValueError, match="at least 10"):
        api_limits.waf({"INSTALL_WAF_RATE_LIMIT": "5"}, "p", "api")
    with pytest.raises(ValueError, match="letters and digits"):
        api_limits.waf({"INSTALL_WAF_RATE_LIMIT": "100"}, "p", "my-stage")
    made = api_limits.waf({"INSTALL_WAF_RATE_LIMIT": "100"}, "hubspot-pipeline-prod", "api")
    assert set(made) == {"ApiWebAcl", "ApiWebAclAssociation"}
