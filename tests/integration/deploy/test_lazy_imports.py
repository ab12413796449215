"""Handlers import lazily what only they need: a cold start of one function (import app.py, then
its handler's own imports) does not load the modules of the others."""
from __future__ import annotations

import pytest

from deploy.lambda_imports import lazy_imports, probe, probe_env

# Never in any Lambda function (they are not even in the package; see test_package.py).
NEVER = ("local_stack", "moto", "flask", "pyspark", "pyarrow", "hubcurate", "airbyte_api",
         "pytest", "playwright")
# What only other functions need, which the API function (user-facing: the install page and the
# OAuth callback) must not pay for at cold start.
NOT_IN_API = ("hubspot_app.lifecycle.provisioner", "hubspot_app.lifecycle.provision_queue", "hubspot_app.airbyte.spec",
              "hubspot_app.airbyte.client", "hubspot_app.lifecycle.reconcile",
              "hubspot_app.glue_trigger", "hubspot_app.ops",
              # the other functions' adapters (hubspot_app/handlers/)
              "hubspot_app.handlers.provisioning", "hubspot_app.handlers.lifecycle",
              "hubspot_app.handlers.lake")


OFFBOARDING = ("hubspot_app.lifecycle.uninstall", "hubspot_app.lifecycle.token_health", "hubspot_app.webhooks",
               "hubspot_app.lifecycle.journal", "hubspot_app.handlers.webhooks")


@pytest.fixture(scope="module")
def handlers():
    found = lazy_imports(routes=True)
    assert "api_handler" in found and len(found) >= 3, found
    return found


@pytest.fixture(scope="module")
def loaded(handlers):
    env = probe_env("dev")
    return {fn: set(probe(mods, env)["modules"]) for fn, mods in
            {"app.py alone": [], **handlers}.items()}


def _own(mods):
    return {m for m in mods if m.startswith("hubspot_app.")}


def test_app_py_alone_loads_no_handler_module(handlers, loaded):
    targets = set().union(*(_own(m) for m in handlers.values()))
    assert not targets & loaded["app.py alone"], sorted(targets & loaded["app.py alone"])


def test_api_function_does_not_load_other_functions_modules(handlers, loaded):
    api_own = _own(handlers["api_handler"])
    others = set().union(*(_own(m) for fn, m in handlers.items() if not fn.startswith("api_handler")))
    forbidden = (others - api_own) | set(NOT_IN_API)
    for fn in [f for f in loaded if f.startswith("api_handler")]:
        assert not forbidden & loaded[fn], f"{fn} loads {sorted(forbidden & loaded[fn])}"


def test_install_route_loads_only_the_install_flow(loaded):
    """The marketplace link's target: a cold /install pays neither for the other functions nor
    for the offboarding path (webhook -> uninstall -> token health)."""
    key = "api_handler GET /install"
    assert key in loaded
    forbidden = set(NOT_IN_API) | set(OFFBOARDING)
    assert not forbidden & loaded[key], sorted(forbidden & loaded[key])


def test_no_function_loads_local_tools(loaded):
    for fn, mods in loaded.items():
        bad = sorted(m for m in mods if m.split(".")[0] in NEVER)
        assert not bad, f"{fn} loads {bad}"


def test_no_function_pays_for_the_xray_sdk_at_import(loaded):
    """The X-Ray SDK loads at a function's first traced call (hubspot_app/tracing.py, issue 14):
    at import it cost every function about a quarter of a bare `import boto3`."""
    for fn, mods in loaded.items():
        assert not [m for m in mods if m.split(".")[0] in ("aws_xray_sdk", "wrapt")], fn
