"""tests/unit runs on fakes: in-process moto (`mock_aws`), stub clients, tmp_path. No server of
any kind (sandbox, emulator, local stack, moto server), no Spark, browser, connector or other
process: a test here that binds or listens on a socket or starts a process fails, naming what it
did. Such a test belongs in tests/integration/<area>/ (tests/harness/ has the stack fixtures).

The guard covers each test's set-up, call and tear-down (its fixtures included), not the
session's plugins: the IAM check (deploy/iam_pytest.py) judges recorded AWS calls in its
report hook with one long-lived node evaluator per worker (stdin/stdout, no socket)."""
from __future__ import annotations

import multiprocessing.process
import os
import socket
import subprocess
import threading

import pytest


class ServerInUnitTest(RuntimeError):
    """Raised where a unit test would start a server or a process."""


class Guard:
    def __init__(self) -> None:
        self.active = False
        self.seen: list[str] = []
        self._lock = threading.Lock()
        self._background: set[int | None] = set()

    def start(self) -> None:
        """Guard the test's thread and the threads it starts; threads already running (a
        server another module left in this worker) are not this test's doing."""
        self._background = {t.ident for t in threading.enumerate()} - {threading.get_ident()}
        self.drain()
        self.active = True

    def hit(self, what: str) -> None:
        if not self.active or threading.get_ident() in self._background:
            return
        message = (f"tests/unit may not start servers or processes ({what}); move the test to "
                   f"tests/integration/<area>/ or use a fake (tests/unit/conftest.py)")
        with self._lock:
            self.seen.append(message)
        raise ServerInUnitTest(message)

    def drain(self) -> list[str]:
        with self._lock:
            seen, self.seen = self.seen, []
        return seen


GUARD = Guard()
_bind = socket.socket.bind
_listen = socket.socket.listen
_popen_init = subprocess.Popen.__init__
_process_start = multiprocessing.process.BaseProcess.start
_fork = os.fork


def _guarded_bind(self, address, *args, **kwargs):
    GUARD.hit(f"socket bind {address!r}")
    return _bind(self, address, *args, **kwargs)


def _guarded_listen(self, *args, **kwargs):
    GUARD.hit("socket listen")
    return _listen(self, *args, **kwargs)


def _guarded_popen(self, args, *rest, **kwargs):
    GUARD.hit(f"subprocess {str(args)[:200]}")
    _popen_init(self, args, *rest, **kwargs)


def _guarded_process_start(self):
    GUARD.hit(f"multiprocessing {self!r}")
    return _process_start(self)


def _guarded_fork():
    GUARD.hit("os.fork")
    return _fork()


@pytest.fixture(scope="session", autouse=True)
def _install_guard():
    patches = [(socket.socket, "bind", _guarded_bind), (socket.socket, "listen", _guarded_listen),
               (subprocess.Popen, "__init__", _guarded_popen),
               (multiprocessing.process.BaseProcess, "start", _guarded_process_start),
               (os, "fork", _guarded_fork)]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    yield
    for owner, name, original in saved:
        setattr(owner, name, original)


def _guarded_phase():
    GUARD.start()
    try:
        result = yield
    finally:
        GUARD.active = False
    seen = GUARD.drain()
    if seen:  # raised inside the test but swallowed (a server thread, an `except Exception`)
        raise ServerInUnitTest("\n".join(dict.fromkeys(seen)))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _guarded_phase())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _guarded_phase())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _guarded_phase())


@pytest.fixture
def unit_guard() -> Guard:
    """The guard itself, for its own tests (tests/unit/test_unit_guard.py)."""
    return GUARD
