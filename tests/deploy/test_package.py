"""`chalice package` yields a deployment package that runs on its own files alone."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The budget: AWS allows 50 MB zipped (250 MB unzipped). Measured (dev stage, requirements.txt as
# of issue 7): 22 MB zipped, of which botocore 15.7 MB (pinned in requirements.txt, see there),
# cryptography 4.5 MB (AES-GCM for refresh tokens), everything else < 2 MB together. 30 MB is
# that plus ~35% headroom for ordinary growth (a small library or two), still well under AWS's 50,
# and it fails at once on a stray heavy dependency: pyarrow (~40 MB), pyspark (~300 MB), pandas
# (~12 MB), the Airbyte connector or its CDK. Raising it needs a reason in this comment.
ZIPPED_BUDGET_BYTES = 30 * 1024 * 1024
NEVER_SHIPPED = ("pyspark", "pyarrow", "flask", "moto", "local_stack", "pytest", "airbyte",
                 "hubspot/", "tests/", "glue/", "playwright", "cryptography")


@pytest.fixture(scope="module")
def package(packaged) -> Path:
    """`chalice package --stage dev --merge-template ...`, made once per session (conftest)."""
    return packaged("dev")


@pytest.mark.slow
def test_package_imports_with_only_its_own_files(package, tmp_path):
    unpacked = tmp_path / "lambda"
    with zipfile.ZipFile(package / "deployment.zip") as zf:
        zf.extractall(unpacked)
        modules = sorted(n[:-3].replace("/", ".") for n in zf.namelist()
                         if n.startswith("hubspot_app/") and n.endswith(".py")
                         and not n.endswith("__main__.py"))  # a CLI entry runs on import
    assert "hubspot_app.install" in modules
    # -I -S: no site-packages, no user site, no PYTHONPATH: the package's files and stdlib only.
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import app, importlib; "
             "[importlib.import_module(m) for m in sys.argv[2:]]; "
             "print(sorted(app.app.routes)); "
             "print(all(not p or p.startswith(sys.argv[1]) or 'site-packages' not in p "
             "for p in [getattr(sys.modules[m], '__file__', '') or '' for m in list(sys.modules)]))")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(unpacked), *modules],
                            cwd=unpacked, capture_output=True, text=True, timeout=120,
                            env={"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1"})
    assert result.returncode == 0, result.stderr
    routes, only_packaged = result.stdout.strip().splitlines()[-2:]
    assert "/install" in routes and "/oauth/callback" in routes
    assert only_packaged == "True"


@pytest.mark.slow
def test_package_is_small_and_holds_no_local_tools(package):
    size = (package / "deployment.zip").stat().st_size
    print(f"deployment.zip: {size / 1024 / 1024:.1f} MB (budget {ZIPPED_BUDGET_BYTES // 1024 // 1024} MB)")
    assert size < ZIPPED_BUDGET_BYTES
    with zipfile.ZipFile(package / "deployment.zip") as zf:
        names = zf.namelist()
    for banned in NEVER_SHIPPED:
        assert not [n for n in names if n.lower().startswith(banned)], banned
    assert not [n for n in names if "__pycache__" in n]
