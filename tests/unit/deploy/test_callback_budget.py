"""API Gateway ends a REST API integration after 29 s (API Gateway quotas: "Integration
timeout: 50 milliseconds - 29 seconds"). The OAuth callback's worst case must stay under it.

Worst case from the stage's settings: the callback makes two HubSpot calls (code exchange,
introspection; hubspot_app/install.py `_store_install`), each doubled when the 2026-03 endpoint
answers 404 and the v1 fallback is on (hubspot_oauth.py `_with_fallback`). requests applies a
single `timeout=t` to the connect and to the read separately (requests docs, "Timeouts"), so
one call can take up to 2t before it gives up. What is left must cover the AWS calls
(Secrets Manager, KMS, DynamoDB, SQS: a few tens of ms each in-region) and the cold start."""
from __future__ import annotations

import ast

import pytest

from deploy import infra

API_GATEWAY_LIMIT = 29.0
RESERVE_FOR_AWS_AND_COLD_START = 4.0


def _hubspot_calls_in_callback() -> list[str]:
    tree = ast.parse((infra.ROOT / "hubspot_app" / "install.py").read_text())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_store_install")
    return [n.func.attr for n in ast.walk(fn) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
            and n.func.value.id == "oauth"]


def worst_case_seconds(env: dict) -> float:
    calls = len(_hubspot_calls_in_callback())
    fallback = env.get("HUBSPOT_TOKEN_API", "2026-03") != "v1" and \
        env.get("HUBSPOT_V1_FALLBACK", "true").lower() == "true"
    attempts = calls * (2 if fallback else 1)
    return attempts * 2 * float(env.get("HTTP_TIMEOUT_SECONDS", "10"))


def test_the_callback_makes_exactly_the_calls_counted():
    assert sorted(_hubspot_calls_in_callback()) == ["exchange_code", "introspect"]


@pytest.mark.parametrize("stage", ("dev", "prod"))
def test_callback_worst_case_stays_under_api_gateways_29_seconds(stage):
    env = infra.stage_env(stage)
    worst = worst_case_seconds(env)
    assert worst + RESERVE_FOR_AWS_AND_COLD_START <= API_GATEWAY_LIMIT, (
        f"stage {stage}: the callback can wait {worst:.0f} s on HubSpot (+{RESERVE_FOR_AWS_AND_COLD_START:.0f} s "
        f"reserve) > {API_GATEWAY_LIMIT:.0f} s: lower HTTP_TIMEOUT_SECONDS or turn off HUBSPOT_V1_FALLBACK")


def test_the_budget_would_catch_the_old_default():
    assert worst_case_seconds({"HTTP_TIMEOUT_SECONDS": "10"}) == 80.0
