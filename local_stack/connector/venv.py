"""The connector's own venv (.venv-connector at the repo root): it pins airbyte-cdk 6 and
pendulum 2, which must not mix with the app's dependencies."""
import fcntl
import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-connector"
REQUIREMENTS = ROOT / "requirements-connector.txt"
_MARKER = ".requirements.sha256"


def connector_executable(venv: pathlib.Path = VENV) -> pathlib.Path:
    return venv / "bin" / "source-hubspot"


def ensure_connector_venv(venv: pathlib.Path = VENV, python: str = sys.executable) -> pathlib.Path:
    """Creates or updates the venv when requirements-connector.txt changed; idempotent and
    safe to call from several processes at once (file lock). Returns the venv path."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    marker = venv / _MARKER
    if marker.exists() and marker.read_text() == digest and connector_executable(venv).exists():
        return venv
    lock_path = pathlib.Path(tempfile.gettempdir()) / (
        "venv-connector-" + hashlib.sha256(str(venv).encode()).hexdigest()[:12] + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text() == digest and connector_executable(venv).exists():
            return venv     # another process finished it while we waited
        if not (venv / "bin" / "python").exists():
            subprocess.run([python, "-m", "venv", str(venv)], check=True)
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                        "-r", str(REQUIREMENTS)], check=True, env=env)
        marker.write_text(digest)
    return venv
