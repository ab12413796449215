"""The unit suite's guard (tests/unit/conftest.py): a server or a process started by a unit test
fails it, even when the test or a thread it started swallows the error."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

from .conftest import ServerInUnitTest


def test_a_listening_socket_is_refused(unit_guard):
    with socket.socket() as sock, pytest.raises(ServerInUnitTest, match="socket bind"):
        sock.bind(("127.0.0.1", 0))
    assert unit_guard.drain(), "the guard must also fail the test after it returns"


def test_a_subprocess_is_refused(unit_guard):
    with pytest.raises(ServerInUnitTest, match="tests/integration"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert unit_guard.drain()


def test_a_server_thread_that_swallows_the_error_still_fails_the_test(unit_guard):
    def serve():
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                sock.listen()
        except Exception:  # noqa: BLE001 - what a careless server thread would do
            pass
    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    assert any("socket bind" in line for line in unit_guard.drain())


def test_client_sockets_are_allowed():
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
