"""What the stage config must give the template checks (the templates themselves, packaged and
linted: tests/integration/deploy/test_templates.py)."""
from __future__ import annotations

from deploy import infra

STAGES = ("dev", "prod")


def test_at_least_one_deployed_stage_lints_the_waf_resources():
    assert any(infra.stage_env(s).get("INSTALL_WAF_RATE_LIMIT") for s in STAGES), (
        "no stage enables the WAF rule, so cfn-lint never sees it")
