"""The Iceberg Spark runtime for the local Glue, from package registries only (Maven is not
reachable here).

PyPI's ``snowpark-connect-deps-iceberg`` ships Apache Iceberg's
``iceberg-spark-runtime-3.5_2.12-1.10.2.jar`` (and the SQL extensions), but that copy was
repackaged without the Jackson classes Apache's build shades into
``org.apache.iceberg.shaded.com.fasterxml.jackson`` (loading any table metadata fails with
``ClassNotFoundException: ...shaded.com.fasterxml.jackson.core.JsonFactoryBuilder``). PySpark
ships the same Jackson (``pyspark/jars/jackson-*.jar``), so we relocate those classes into the
shaded package once, as the Maven shade plugin does (class-file constant pools and service
files rewritten), and put the result beside the runtime on the classpath. The package holds
no AWS SDK, so Iceberg's GlueCatalog/S3FileIO cannot run locally (glue/README.md says what
runs instead).
"""
from __future__ import annotations

import glob
import io
import os
import struct
import zipfile
from pathlib import Path

RUNTIME = "iceberg-spark-runtime-3.5_2.12-*.jar"
JACKSON = ("jackson-core-2*.jar", "jackson-databind-2*.jar", "jackson-annotations-2*.jar")
_FROM, _TO = "com/fasterxml/jackson/", "org/apache/iceberg/shaded/com/fasterxml/jackson/"
CACHE = Path(os.environ.get("ICEBERG_JAR_CACHE", Path.home() / ".cache" / "hubspot-pipeline"))


def runtime_jar() -> str:
    import snowpark_connect_deps_iceberg as deps
    found = sorted(glob.glob(str(Path(deps.__file__).parent / "jars" / RUNTIME)))
    if not found:
        raise RuntimeError(f"no {RUNTIME} in snowpark-connect-deps-iceberg: "
                           "pip install -r requirements-dev.txt")
    return found[-1]


def _relocate_text(s: str) -> str:
    return s.replace(_FROM, _TO).replace(_FROM.replace("/", "."), _TO.replace("/", "."))


def relocate_class(data: bytes) -> bytes:
    """Rewrite the CONSTANT_Utf8 entries of one class file (names, descriptors, strings)."""
    out, i = bytearray(data[:10]), 10
    count = struct.unpack(">H", data[8:10])[0]
    n = 1
    while n < count:
        tag = data[i]
        if tag == 1:
            length = struct.unpack(">H", data[i + 1:i + 3])[0]
            raw = data[i + 3:i + 3 + length]
            if b"com/fasterxml/jackson" in raw or b"com.fasterxml.jackson" in raw:
                # modified UTF-8: the prefixes are ASCII, so a byte-level replace is exact
                raw = raw.replace(_FROM.encode(), _TO.encode()).replace(
                    _FROM.replace("/", ".").encode(), _TO.replace("/", ".").encode())
            out += bytes([1]) + struct.pack(">H", len(raw)) + raw
            i += 3 + length
        else:
            size = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 16: 2, 19: 2, 20: 2, 9: 4, 10: 4, 11: 4,
                    12: 4, 15: 3, 17: 4, 18: 4}[tag]
            out += data[i:i + 1 + size]
            i += 1 + size
            if tag in (5, 6):
                n += 1  # longs and doubles take two slots
        n += 1
    return bytes(out + data[i:])


def shaded_jackson_jar() -> str:
    """The relocated Jackson jar (built once, cached by the source jars' names)."""
    import pyspark
    jars = Path(pyspark.__file__).parent / "jars"
    sources = [sorted(jars.glob(p))[-1] for p in JACKSON]
    target = CACHE / ("iceberg-shaded-" + "-".join(s.stem for s in sources) + ".jar")
    if target.exists():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        seen = set()
        for src in sources:
            with zipfile.ZipFile(src) as jar:
                for info in jar.infolist():
                    name = info.filename
                    if info.is_dir() or name.endswith(("MANIFEST.MF", "module-info.class")) \
                            or "com/fasterxml/jackson" not in name and \
                            not name.startswith("META-INF/services/"):
                        continue
                    data = jar.read(name)
                    if name.endswith(".class"):
                        data = relocate_class(data)
                    elif name.startswith("META-INF/services/"):
                        data = _relocate_text(data.decode()).encode()
                    new = _relocate_text(name) if "META-INF/services/" not in name else \
                        "META-INF/services/" + _relocate_text(name.split("/", 2)[2])
                    if new not in seen:
                        seen.add(new)
                        z.writestr(new, data)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(target)
    return str(target)


def spark_jars() -> str:
    """``spark.jars`` for a local SparkSession with Iceberg."""
    return ",".join([runtime_jar(), shaded_jackson_jar()])
