"""Glue job on local Spark: rows/s of a full run over a generated lake of several accounts,
and the cost of an incremental run over 1% new data as a ratio of the full run (target <= 10%).

    .venv/bin/python bench/glue_incremental.py [--accounts 20] [--contacts 4000]

Both runs are timed in the same process, on the same warm JVM (the machines are shared and
noisy: the ratio is the figure to read, not the absolute seconds)."""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "glue")]

from hubcurate import job  # noqa: E402 - after the sys.path set-up above
from hubcurate.glue_compat import local_spark  # noqa: E402 - after the sys.path set-up above
from local_stack import raw_lake  # noqa: E402 - after the sys.path set-up above

T0 = 1_700_000_000_000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--contacts", type=int, default=4000)
    ap.add_argument("--files-per-stream", type=int, default=4)
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="glue-bench-"))
    root = f"file://{d}/lake/"
    counts = {"contacts": a.contacts, "companies": a.contacts // 4, "deals": a.contacts // 2}
    t = time.time()
    for h in range(1, a.accounts + 1):
        raw_lake.write_account(d, "lake", h, counts, T0, files_per_stream=a.files_per_stream,
                               custom={f"custom_{h % 3}": "v"})
    total = a.accounts * sum(counts.values())
    print(f"generated {total} records in {time.time() - t:.1f}s under {d}")
    spark = local_spark()
    spark.sparkContext.setLogLevel("ERROR")
    job.run(spark, f"file://{tempfile.mkdtemp()}/empty/")  # warm the JVM up, not timed

    t = time.time()
    rep = job.run(spark, root, "ALL")
    full = time.time() - t
    read = sum(rep["records_read"].values())
    print(f"full run: {rep['new_files']} files, {read} raw rows in {full:.1f}s "
          f"= {read / full:,.0f} rows/s")

    new = total // 100  # 1% new data, landing in one account (the usual shape: one sync)
    recs = [raw_lake.crm_record(10_000_000 + i, {"email": f"n{i}@x.io"}, raw_lake._iso(T0 + 1))
            for i in range(new)]
    raw_lake.write_airbyte_parquet(d, "lake", 1, "contacts", recs, T0 + 86_400_000, 0, 2,
                                   raw_lake.account_schema("contacts", {"custom_1": "string"}))
    t = time.time()
    rep = job.run(spark, root, "1")  # what the trigger asks for: the account that got files
    inc = time.time() - t
    print(f"incremental run: {rep['new_files']} file, {new} rows in {inc:.1f}s")
    t = time.time()
    job.run(spark, root, "ALL")
    idle = time.time() - t
    print(f"idle run (nothing new, all accounts listed): {idle:.2f}s")
    print(f"RATIO incremental/full = {inc / full:.3f} (target <= 0.10)")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
