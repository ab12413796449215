"""pytest plugin: every AWS call a Lambda function or the Glue job makes in a test is judged
against the policy it deploys with (deploy/iam_check.py says how).

A test whose code made a call the dev or prod policy does not allow fails, naming the function,
the action, the resource and the policy file to change. `IAM_CHECK=report` only prints the
refusals at the end; `IAM_CHECK=off` records nothing. Registered in tests/conftest.py.
"""
from __future__ import annotations

import functools
import os

import pytest

from . import iam_check

MODE = os.environ.get("IAM_CHECK", "strict")
_evaluator: iam_check.Evaluator | None = None
_seen = 0
_reported: list[str] = []
_app_handlers: dict[str, str] | None = None


def _handler_names() -> dict[str, str]:
    """app.py's handler function names -> the Lambda function that runs them."""
    global _app_handlers
    if _app_handlers is None:
        _app_handlers = {}
        try:
            import app as module
        except Exception:  # noqa: BLE001 - no app: nothing to attribute by frame
            return _app_handlers
        for name, handler in module.app.handler_map.items():
            func = getattr(handler, "func", None) or getattr(handler, "_original_func", None)
            if func is not None:
                _app_handlers[func.__name__] = name
        for route in module.app.routes.values():
            for entry in route.values():
                _app_handlers[entry.view_function.__name__] = "api_handler"
    return _app_handlers


def _from_app_frames() -> str | None:
    import sys
    app_file = str(iam_check.ROOT / "app.py")
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == app_file:
            name = _handler_names().get(frame.f_code.co_name)
            if name:
                return name
        frame = frame.f_back
    return None


def _is_project_app(chalice_app) -> bool:
    """Only this project's app.py functions have deployed policies; test-only Chalice apps
    (e.g. the dispatcher's tests) are not judged."""
    try:
        import app as module
    except Exception:  # noqa: BLE001 - no importable app.py: nothing of ours to judge
        return False
    return chalice_app is module.app


def _install() -> None:
    import chalice.app
    import chalice.test

    recorder = iam_check.install()
    original_current = iam_check.current_function

    def current_function():
        return original_current() or _from_app_frames()
    iam_check.current_function = current_function

    invoke = chalice.test.TestLambdaClient.invoke

    @functools.wraps(invoke)
    def traced_invoke(self, function_name, payload=None):
        if not _is_project_app(self._app):
            return invoke(self, function_name, payload)
        recorder.add_implicit(function_name, iam_check.implicit_needs(function_name, event=payload),
                              f"Lambda runtime ({function_name})")
        with iam_check.acting_as(function_name):
            return invoke(self, function_name, payload)
    chalice.test.TestLambdaClient.invoke = traced_invoke

    call = chalice.app.Chalice.__call__

    @functools.wraps(call)
    def traced_call(self, event, context):
        if not _is_project_app(self):
            return call(self, event, context)
        recorder.add_implicit("api_handler", iam_check.implicit_needs("api_handler"),
                              "Lambda runtime (api_handler)")
        with iam_check.acting_as("api_handler"):
            return call(self, event, context)
    chalice.app.Chalice.__call__ = traced_call


def pytest_configure(config):
    if MODE != "off":
        _install()


def _new_problems() -> list[str]:
    global _seen, _evaluator
    calls = iam_check.RECORDER.calls[_seen:]
    _seen += len(calls)
    if not calls:
        return []
    if _evaluator is None:
        _evaluator = iam_check.Evaluator()
    return iam_check.check(calls, _evaluator)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if MODE == "off":
        return
    report = outcome.get_result()
    problems = _new_problems()
    if not problems:
        return
    _reported.extend(problems)
    if MODE == "strict" and not report.failed:
        report.outcome = "failed"
        report.longrepr = ("AWS calls the deployed IAM policies refuse (deploy/iam_check.py):\n  "
                           + "\n  ".join(problems))


def _counts() -> dict:
    rec = iam_check.RECORDER
    return {"attributed": len([c for c in rec.calls if c.service != "lambda-runtime"]),
            "unattributed": rec.unattributed, "refused": list(_reported)}


_worker_counts: list[dict] = []  # under pytest-xdist: what each worker recorded


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the figures to the controller
        workeroutput["iam_check"] = _counts()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    counts = getattr(node, "workeroutput", {}).get("iam_check")
    if counts:
        _worker_counts.append(counts)


def pytest_terminal_summary(terminalreporter):
    if MODE == "off":
        return
    parts = [_counts(), *_worker_counts]
    attributed = sum(p["attributed"] for p in parts)
    unattributed = sum(p["unattributed"] for p in parts)
    refused = [line for p in parts for line in p["refused"]]
    terminalreporter.write_line(
        f"IAM check ({MODE}): {attributed} AWS calls by functions evaluated against the dev and "
        f"prod policies, {len(refused)} refused; {unattributed} calls outside any function "
        f"(set-up, local stack, operators) not checked")
    if MODE == "report":
        for line in refused:
            terminalreporter.write_line("  " + line)


def pytest_unconfigure(config):
    if _evaluator is not None:
        _evaluator.close()
