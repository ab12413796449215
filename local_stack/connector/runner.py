"""Runs the official connector (`source-hubspot spec|check|discover|read`) as a subprocess and
yields its Airbyte protocol messages as dicts. With the connector venv, each run is forked from
one warm parent per process (forkserver.py: the CDK's imports and the manifest's
pre-processing done once); HUBSPOT_CONNECTOR_FORKSERVER=0, another venv, or a fork server that
cannot start: a fresh `source-hubspot` process per run."""
import json
import logging
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator

from .venv import VENV, connector_executable

log = logging.getLogger(__name__)
SITE_DIR = pathlib.Path(__file__).resolve().parent / "site"
COMMANDS = ("spec", "check", "discover", "read")
# "0": every run is a fresh `source-hubspot` process (else forked from a warm parent, forkserver.py)
FORKSERVER_ENV = "HUBSPOT_CONNECTOR_FORKSERVER"


class ConnectorError(RuntimeError):
    def __init__(self, returncode: int, stderr_tail: str):
        super().__init__(f"source-hubspot exited with {returncode}: {stderr_tail}")
        self.returncode = returncode
        self.stderr_tail = stderr_tail


def oauth_config(client_id: str, client_secret: str, refresh_token: str,
                 start_date: str = "2020-01-01T00:00:00Z", **extra) -> dict:
    """The connector's config for OAuth credentials (see its spec)."""
    return {"credentials": {"credentials_title": "OAuth Credentials", "client_id": client_id,
                            "client_secret": client_secret, "refresh_token": refresh_token},
            "start_date": start_date, **extra}


def run_connector(command: str, config: dict | None = None, catalog: dict | None = None,
                  state: dict | list | None = None, sandbox_url: str | None = None,
                  venv: pathlib.Path = VENV, raise_on_error: bool = True,
                  extra_env: dict | None = None,
                  cancel: threading.Event | None = None) -> Iterator[dict]:
    """Yields every JSON message the connector prints. With raise_on_error, a non-zero exit
    raises ConnectorError after the last message (so callers still see its TRACE errors).
    `cancel`: when set, the connector is terminated at once, not at its next message (a
    cancelled job, or an emulator shutting down, must not wait for a connector that is still
    starting or backing off)."""
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {COMMANDS}")
    with tempfile.TemporaryDirectory(prefix="source-hubspot-") as tmp:
        args = [str(connector_executable(venv)), command]
        for name, value in (("config", config), ("catalog", catalog), ("state", state)):
            if value is not None:
                path = os.path.join(tmp, f"{name}.json")
                with open(path, "w") as f:
                    json.dump(value, f)
                args += [f"--{name}", path]
        env = {**os.environ, **(extra_env or {})}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE_DIR), env.get("PYTHONPATH")]))
        env["REQUEST_CACHE_PATH"] = tmp      # the CDK's HTTP cache stays inside the temp dir
        if sandbox_url:
            env["HUBSPOT_SANDBOX_URL"] = sandbox_url
        stderr_path = os.path.join(tmp, "stderr.log")
        with open(stderr_path, "w") as stderr:
            proc = None
            if venv == VENV and os.environ.get(FORKSERVER_ENV, "1") != "0":
                proc = _FORK_SERVER.spawn([str(connector_executable(venv))] + args[1:], env,
                                          tmp, stderr)
            if proc is None:
                proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, env=env,
                                        cwd=tmp, text=True, bufsize=1 << 16)
            if cancel is not None:
                threading.Thread(target=_terminate_on, args=(cancel, proc), daemon=True,
                                 name="connector-cancel").start()
            try:
                for line in proc.stdout:
                    if line.startswith("{"):
                        try:
                            yield json.loads(line)
                        except ValueError:
                            pass      # a stray print from a dependency, not a protocol message
            finally:
                if proc.poll() is None and proc.stdout and not proc.stdout.closed:
                    proc.stdout.close()
                rc = proc.wait()
        if rc != 0 and raise_on_error:
            with open(stderr_path) as f:
                raise ConnectorError(rc, f.read()[-4000:])


def _terminate_on(cancel: threading.Event, proc) -> None:
    while not cancel.wait(0.5):
        if proc.poll() is not None:
            return                      # finished on its own
    if proc.poll() is None:
        proc.terminate()


class _ForkedRun:
    """A run forked by the fork server, with the part of Popen's interface run_connector uses."""

    def __init__(self, conn: socket.socket, pid: int, stdout):
        self._conn, self._lines = conn, conn.makefile("r")
        self.pid, self.stdout, self.returncode = pid, stdout, None
        self._lock = threading.Lock()

    def wait(self) -> int:
        with self._lock:
            if self.returncode is None:
                line = self._lines.readline()
                self.returncode = json.loads(line)["returncode"] if line else -signal.SIGKILL
                self._lines.close()
                self._conn.close()
            return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None and not self._lock.locked():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return self.wait()        # gone: the server's answer is on its way
        return self.returncode

    def terminate(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


class _ForkServer:
    """This process's fork server (local_stack/connector/forkserver.py), started at first use;
    None from spawn() when it cannot be used, and the caller starts a fresh process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._path = ""
        self._owner = 0
        self._broken = False

    def _ensure(self) -> str | None:
        with self._lock:
            if self._broken:
                return None
            if self._proc is not None and self._owner == os.getpid() and self._proc.poll() is None:
                return self._path
            folder = tempfile.mkdtemp(prefix="connector-forkserver-")
            self._path = os.path.join(folder, "socket")
            env = {k: v for k, v in os.environ.items() if k != "HUBSPOT_SANDBOX_URL"}
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE_DIR), env.get("PYTHONPATH")]))
            try:
                self._proc = subprocess.Popen(
                    [str(VENV / "bin" / "python"), str(pathlib.Path(__file__).with_name(
                        "forkserver.py")), self._path], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=folder,
                    text=True)
                ready = self._proc.stdout.readline() if self._proc.stdout else ""
            except OSError:
                ready = ""
            if ready.strip() != "ready":
                log.warning("connector fork server did not start (%r): fresh processes from now on",
                            ready[:200])
                self._broken = True
                return None
            self._owner = os.getpid()
            return self._path

    def spawn(self, argv: list[str], env: dict, cwd: str, stderr) -> _ForkedRun | None:
        path = self._ensure()
        if path is None:
            return None
        read_fd, write_fd = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(path)
            request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
            socket.send_fds(conn, [request], [write_fd, stderr.fileno()])
            os.close(write_fd)
            write_fd = -1
            answer = conn.makefile("r").readline()
            pid = json.loads(answer)["pid"]
        except (OSError, ValueError, KeyError):
            conn.close()
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
            return None
        return _ForkedRun(conn, pid, os.fdopen(read_fd, "r", buffering=1 << 16))


_FORK_SERVER = _ForkServer()
