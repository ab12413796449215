"""The Lambda artefacts after `chalice package`: a small function zip, the dependencies in a layer.

`automatic_layer` (.chalice/config.json) makes chalice put requirements.txt *and* vendor/ into
`layer-deployment.zip`; `finish()` moves the project's own packages (vendor/, i.e. hubspot_app)
back into `deployment.zip`, so a code change leaves the layer alone, and compiles bytecode into
both. Lambda's /var/task and /opt are read-only: without shipped .pyc files every cold start
compiles every module it imports (about 2x the import time of boto3 here, bench/cold_start.py).
The .pyc files are unchecked-hash ones (PEP 552) made from exactly the sources in the zip by the
interpreter chalice packages for (its runtime is this Python's version), so they are never stale
and no source is re-read to validate them.

Lambda's limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, and
CodeSizeZipped/CodeSizeUnzipped in https://docs.aws.amazon.com/lambda/latest/api/API_AccountLimit.html):
50 MB zipped per archive uploaded directly, 250 MB unzipped for a function with all its layers.
Layer layout (python/ at the root, on sys.path after /var/task):
https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html
"""
from __future__ import annotations

import compileall
import py_compile
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_ZIP, LAYER_ZIP = "deployment.zip", "layer-deployment.zip"
LAYER_SITE = f"python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
OWN_PACKAGES = tuple(sorted(p.name for p in (ROOT / "vendor").iterdir()))  # shipped from vendor/
MB = 1024 * 1024
ZIPPED_DIRECT_UPLOAD_LIMIT = 50 * MB
UNZIPPED_LIMIT = 250 * MB  # function + layers; Lambda refuses > 262144000 bytes
FUNCTION_ZIP_TARGET = 5 * MB  # issue 14


def finish(out: Path) -> None:
    """Move OWN_PACKAGES from the layer into the function zip, compile .pyc into both."""
    layer_zip = out / LAYER_ZIP
    if not layer_zip.exists():
        raise RuntimeError(f"{layer_zip} missing: .chalice/config.json must set automatic_layer")
    with tempfile.TemporaryDirectory() as tmp:
        function_dir, layer_dir = Path(tmp) / "function", Path(tmp) / "layer"
        _extract(out / FUNCTION_ZIP, function_dir)
        _extract(layer_zip, layer_dir)
        for name in OWN_PACKAGES:
            src = layer_dir / LAYER_SITE / name
            if src.exists():
                shutil.move(str(src), str(function_dir / name))
        for tree in (function_dir, layer_dir):
            if not compileall.compile_dir(
                    str(tree), quiet=2, workers=1,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH):
                raise RuntimeError(f"bytecode compilation failed in {tree}")
        _zip(function_dir, out / FUNCTION_ZIP)
        _zip(layer_dir, layer_zip)


def _extract(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            zf.extract(info, into)
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                (into / info.filename).chmod(mode & 0o777)


def _zip(tree: Path, archive: Path) -> None:
    """Deterministic: sorted names, chalice's fixed 1980 timestamps, permission bits kept."""
    tmp = archive.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(tree).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(archive)


@dataclass(frozen=True)
class Sizes:
    function_zipped: int
    layer_zipped: int
    unzipped_total: int

    def lines(self) -> list[str]:
        def mb(n: int) -> str:
            return f"{n / MB:.2f} MB"
        ok = {True: "PASS", False: "FAIL"}
        return [
            f"function deployment.zip {mb(self.function_zipped)} zipped "
            f"(target <= {mb(FUNCTION_ZIP_TARGET)}: {ok[self.function_zipped <= FUNCTION_ZIP_TARGET]})",
            f"layer layer-deployment.zip {mb(self.layer_zipped)} zipped (Lambda: <= "
            f"{mb(ZIPPED_DIRECT_UPLOAD_LIMIT)} per direct upload: "
            f"{ok[max(self.function_zipped, self.layer_zipped) <= ZIPPED_DIRECT_UPLOAD_LIMIT]})",
            f"unzipped function + layer {mb(self.unzipped_total)} (Lambda: <= "
            f"{mb(UNZIPPED_LIMIT)}: {ok[self.unzipped_total <= UNZIPPED_LIMIT]})",
        ]


def sizes(out: Path) -> Sizes:
    unzipped = 0
    for name in (FUNCTION_ZIP, LAYER_ZIP):
        with zipfile.ZipFile(out / name) as zf:
            unzipped += sum(i.file_size for i in zf.infolist())
    return Sizes((out / FUNCTION_ZIP).stat().st_size, (out / LAYER_ZIP).stat().st_size, unzipped)


def unpack(out: Path, into: Path) -> tuple[Path, Path]:
    """Lay the artefacts out as Lambda does: the function in task/ (/var/task), the layer in
    opt/ (/opt). Returns (task, opt)."""
    task, opt = into / "task", into / "opt"
    for d in (task, opt):
        shutil.rmtree(d, ignore_errors=True)
    _extract(out / FUNCTION_ZIP, task)
    _extract(out / LAYER_ZIP, opt)
    return task, opt


def lambda_sys_path(task: Path, opt: Path) -> list[str]:
    """sys.path as the Python runtime sets it: the function, then the layer's two directories."""
    return [str(task), str(opt / LAYER_SITE), str(opt / "python")]
