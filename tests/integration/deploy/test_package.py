"""`chalice package` yields a deployment package that runs on its own files alone."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy import package as package_mod

ROOT = Path(__file__).resolve().parents[3]
# Issue 14: the function zip holds the project's code only (<= 5 MB, measured 0.38 MB); the
# dependencies live in the layer chalice's automatic_layer builds (measured 20.4 MB zipped,
# botocore 17 of it; 31.9 MB unzipped with the function). AWS allows 50 MB zipped per direct upload
# and 250 MB unzipped for a function with its layers (deploy/package.py cites the limits). The
# layer budget, 30 MB, is that plus ~45% for ordinary growth and fails at once on a stray heavy
# dependency: pyarrow (~40 MB), pyspark (~300 MB), pandas (~12 MB), the Airbyte connector or its
# CDK. Raising a budget needs a reason in this comment.
FUNCTION_BUDGET_BYTES = 5 * 1024 * 1024
LAYER_BUDGET_BYTES = 30 * 1024 * 1024
NEVER_SHIPPED = ("pyspark", "pyarrow", "flask", "moto", "local_stack", "pytest", "airbyte",
                 "hubspot/", "tests/", "glue/", "playwright", "cryptography")
SITE = package_mod.LAYER_SITE + "/"


@pytest.fixture(scope="module")
def package(packaged) -> Path:
    """`chalice package --stage dev --merge-template ...`, made once per session (conftest)."""
    return packaged("dev")


@pytest.mark.slow
def test_package_imports_with_only_its_own_files(package, tmp_path):
    task, opt = package_mod.unpack(package, tmp_path)
    with zipfile.ZipFile(package / "deployment.zip") as zf:
        modules = sorted(n[:-3].replace("/", ".") for n in zf.namelist()
                         if n.startswith("hubspot_app/") and n.endswith(".py")
                         and not n.endswith("__main__.py"))  # a CLI entry runs on import
    assert "hubspot_app.install" in modules
    # -I -S: no site-packages, no user site, no PYTHONPATH: the function's and the layer's files
    # (on sys.path as Lambda puts them) and the standard library only.
    probe = ("import sys; roots = tuple(sys.argv[1:3]); sys.path[:0] = sys.argv[3].split('|'); "
             "import app, importlib; [importlib.import_module(m) for m in sys.argv[4:]]; "
             "print(sorted(app.app.routes)); "
             "print(all(not p or p.startswith(roots) or 'site-packages' not in p "
             "for p in [getattr(sys.modules[m], '__file__', '') or '' for m in list(sys.modules)]))")
    paths = "|".join(package_mod.lambda_sys_path(task, opt))
    result = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", probe, str(task), str(opt),
                             paths, *modules],
                            cwd=task, capture_output=True, text=True, timeout=120,
                            env={"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1"})
    assert result.returncode == 0, result.stderr
    routes, only_packaged = result.stdout.strip().splitlines()[-2:]
    assert "/install" in routes and "/oauth/callback" in routes
    assert only_packaged == "True"


@pytest.mark.slow
def test_function_zip_is_the_projects_code_and_the_layer_its_dependencies(package):
    sizes = package_mod.sizes(package)
    print("\n".join(sizes.lines()))
    assert sizes.function_zipped <= FUNCTION_BUDGET_BYTES
    assert sizes.layer_zipped <= LAYER_BUDGET_BYTES
    assert sizes.unzipped_total <= package_mod.UNZIPPED_LIMIT
    with zipfile.ZipFile(package / "deployment.zip") as zf:
        function = zf.namelist()
    with zipfile.ZipFile(package / "layer-deployment.zip") as zf:
        layer = zf.namelist()
    tops = {n.split("/")[0] for n in function}
    # app.py (and its __pycache__), chalice's runtime module, the project's code: no dependency
    assert tops == {"app.py", "__pycache__", "chalice", "hubspot_app"}, tops
    assert all(n.startswith(SITE) for n in layer), [n for n in layer if not n.startswith(SITE)][:5]
    in_layer = {n[len(SITE):].split("/")[0] for n in layer}
    # boto3/botocore ship pinned in the layer (ahead of the runtime's copy on sys.path): README
    # "Known limits" has the version-skew reasoning.
    assert {"boto3", "botocore", "pynamodb", "requests", "aws_xray_sdk"} <= in_layer
    assert "hubspot_app" not in in_layer  # a code change leaves the layer alone
    for banned in NEVER_SHIPPED:
        for names in (function, [n[len(SITE):] for n in layer]):
            assert not [n for n in names if n.lower().startswith(banned)], banned


@pytest.mark.slow
def test_shipped_bytecode_is_unchecked_and_made_from_the_shipped_sources(package):
    """Lambda's code is read-only: .pyc files save each cold start compiling every module. They
    must be this runtime's, hash-based and of exactly the source beside them (no stale pyc)."""
    import importlib.util

    for name in ("deployment.zip", "layer-deployment.zip"):
        with zipfile.ZipFile(package / name) as zf:
            names = set(zf.namelist())
            sources = [n for n in names if n.endswith(".py")]
            missing = []
            for src in sources:
                head, _, base = src.rpartition("/")
                pyc = f"{head + '/' if head else ''}__pycache__/{base[:-3]}.{sys.implementation.cache_tag}.pyc"
                if pyc not in names:
                    missing.append(src)
                    continue
                data = zf.read(pyc)
                assert data[:4] == importlib.util.MAGIC_NUMBER, pyc
                assert int.from_bytes(data[4:8], "little") == 0b01, pyc  # hash-based, unchecked
                assert data[8:16] == importlib.util.source_hash(zf.read(src)), f"stale {pyc}"
            assert not missing, (name, missing[:5])
