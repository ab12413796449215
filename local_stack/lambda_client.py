"""`chalice.test.Client`, safe to invoke from several threads at once.

Chalice's test client gives a function its environment by swapping `os.environ` for a patched
copy during the call and putting the saved object back after it. Two calls that overlap in two
threads (the local stack runs several Lambda consumers at once, as Lambda does) undo each other:
the second saves the first one's copy and puts it back last, so the process keeps a plain dict
as `os.environ` from then on. Everything written to the environment afterwards then misses the
real one: subprocesses (the connector, Spark) and any code holding the real object see stale
values. On CI this made the token-health retries wait the stage file's 60 s instead of the test's
1 s (tests/integration/token_health/test_token_health_flow.py, 2026-12-08).

Here the function's variables are written into the real `os.environ`, under one lock, and the
saved environment comes back when the last overlapping call ends. Overlapping calls of one
client have the same variables; if two clients with different overrides overlap, the later
call's values hold until both end.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping

from chalice.test import Client, TestHTTPClient, TestLambdaClient

_lock = threading.Lock()
_callers = 0
_saved: dict[str, str] = {}


@contextlib.contextmanager
def function_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """`variables` in the process environment for the duration of one function call."""
    global _callers, _saved
    with _lock:
        if _callers == 0:
            _saved = dict(os.environ)
        _callers += 1
        os.environ.update(variables)
    try:
        yield
    finally:
        with _lock:
            _callers -= 1
            if _callers == 0:
                for key in set(os.environ) - set(_saved):
                    del os.environ[key]
                os.environ.update(_saved)


class _InPlaceEnvironment:
    def _patched_env_vars(self, environment_variables: Mapping[str, str]):  # Chalice's hook
        return function_environment(environment_variables)


class _LambdaClient(_InPlaceEnvironment, TestLambdaClient):
    pass


class _HTTPClient(_InPlaceEnvironment, TestHTTPClient):
    pass


class ThreadSafeClient(Client):
    """`chalice.test.Client` whose `lambda_` and `http` use `function_environment`."""

    @property
    def lambda_(self) -> TestLambdaClient:
        if self._lambda_client is None:
            self._lambda_client = _LambdaClient(self._app, self._chalice_config)
        return self._lambda_client

    @property
    def http(self) -> TestHTTPClient:
        if self._http_client is None:
            self._http_client = _HTTPClient(self._app, self._chalice_config)
        return self._http_client
