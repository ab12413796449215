"""Time to the first answer of `./dev query`: DuckDB over pyiceberg's Arrow scan against Spark
SQL with the Iceberg runtime, each in a fresh process (what a user waits for), on the same
curated lake and the same query.

    .venv/bin/python bench/lake_query_engines.py [--accounts 5] [--rows 17500]

Prints seconds per engine and the ratio Spark / DuckDB (the machine is shared: read the ratio)."""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "glue")]

import raw_gen  # noqa: E402 - bench/ is the script's own directory

from hubcurate import job  # noqa: E402 - after the sys.path set-up above
from hubcurate.glue_compat import local_spark  # noqa: E402 - after the sys.path set-up above

SQL = "SELECT hub_id, count(*) AS n, sum(amount) AS amount FROM deals GROUP BY hub_id ORDER BY hub_id"
SPARK = """
import sys; sys.path[:0] = [{root!r}, {glue!r}]
from hubcurate.glue_compat import local_spark
from hubcurate.iceberg import Tables
s = local_spark(); t = Tables(s, {lake!r})
s.sql({sql!r}.replace("FROM deals", "FROM " + t.name("deals"))).show()
"""


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    raw_gen.size_args(ap, rows=17_500, accounts=5)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="lake-query-bench-"))
    generated = raw_gen.generate(d, a.rows, a.accounts, a.files_per_stream)
    lake = generated.url
    spark = local_spark()
    job.run(spark, lake, "ALL")
    spark.stop()
    py = sys.executable
    duck = [py, "-m", "local_stack.lake_query", SQL, "--lake", lake]
    spk = [py, "-c", SPARK.format(root=str(ROOT), glue=str(ROOT / "glue"), lake=lake, sql=SQL)]
    d_s = min(timed(duck) for _ in range(a.repeat))
    s_s = min(timed(spk) for _ in range(a.repeat))
    rows = a.accounts * raw_gen.counts_for(a.rows // a.accounts, a.files_per_stream)["deals"]
    print(f"deals rows: {rows}; best of {a.repeat} fresh processes each")
    print(f"DuckDB over pyiceberg Arrow: {d_s:.2f} s to the first answer")
    print(f"Spark SQL (Iceberg runtime): {s_s:.2f} s to the first answer")
    print(f"ratio Spark / DuckDB: {s_s / d_s:.1f}x")


if __name__ == "__main__":
    main()
