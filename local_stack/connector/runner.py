"""Runs the official connector (`source-hubspot spec|check|discover|read`) as a subprocess and
yields its Airbyte protocol messages as dicts."""
import json
import os
import pathlib
import subprocess
import tempfile
import threading
from collections.abc import Iterator

from .venv import VENV, connector_executable

SITE_DIR = pathlib.Path(__file__).resolve().parent / "site"
COMMANDS = ("spec", "check", "discover", "read")


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


def _terminate_on(cancel: threading.Event, proc: subprocess.Popen) -> None:
    while not cancel.wait(0.5):
        if proc.poll() is not None:
            return                      # finished on its own
    if proc.poll() is None:
        proc.terminate()
