"""Shared by the lake benchmarks: a generated raw lake in Airbyte's layout,
``<dir>/<bucket>/raw/<hub_id>/<stream>/<YYYY>_<MM>_<DD>_<epoch_ms>_<n>.parquet``, written by
local_stack/raw_lake.py (the same writer the tests and the Airbyte emulator use), sized by the
total number of raw rows over a number of accounts.

Each account gets contacts, companies and deals in the ratio 4:1:2 over ``files_per_stream``
files with at-least-once duplicates (every 5th record again in the next file), its owners and
deal pipelines, and one of three custom properties (so schemas differ between accounts)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from local_stack import raw_lake

T0 = 1_700_000_000_000
SHARES = {"contacts": 4, "companies": 1, "deals": 2}
BUCKET = "lake"


def size_args(ap, rows: int, accounts: int) -> None:
    """--rows/--accounts, defaulting to BENCH_ROWS/BENCH_ACCOUNTS, else the given sizes."""
    ap.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ROWS", rows)),
                    help=f"raw rows in all (env BENCH_ROWS; default {rows:,})")
    ap.add_argument("--accounts", type=int,
                    default=int(os.environ.get("BENCH_ACCOUNTS", accounts)),
                    help=f"accounts (env BENCH_ACCOUNTS; default {accounts})")
    ap.add_argument("--files-per-stream", type=int, default=4)


@dataclass
class Lake:
    root: Path          # the directory that mirrors S3: <root>/<bucket>/raw/...
    accounts: int
    files: int
    raw_rows: int       # rows in the raw files (duplicates included), from Parquet metadata
    bytes: int
    seconds: float

    @property
    def url(self) -> str:
        return f"file://{self.root}/{BUCKET}/"

    def raw_glob(self, stream: str) -> str:
        return f"{self.root}/{BUCKET}/raw/*/{stream}/*.parquet"


def counts_for(rows_per_account: int, files_per_stream: int, dup_every: int = 5) -> dict:
    """Records per stream so that records plus the duplicates write_account adds come to about
    ``rows_per_account`` (owners and pipelines, 4 rows, aside)."""
    dup = (files_per_stream - 1) / files_per_stream / dup_every if dup_every else 0
    unique = max(len(SHARES), round(rows_per_account / (1 + dup)))
    total = sum(SHARES.values())
    return {s: max(1, unique * k // total) for s, k in SHARES.items()}


def generate(root: Path, rows: int, accounts: int, files_per_stream: int = 4,
             start_ms: int = T0) -> Lake:
    t = time.perf_counter()
    counts = counts_for(rows // accounts, files_per_stream)
    keys = []
    for h in range(1, accounts + 1):
        keys += raw_lake.write_account(root, BUCKET, h, counts, start_ms,
                                       files_per_stream=files_per_stream,
                                       custom={f"custom_{h % 3}": "v"})
    return _measure(root, accounts, keys, time.perf_counter() - t)


def _measure(root: Path, accounts: int, keys, seconds: float) -> Lake:
    paths = [Path(root, BUCKET, k) for k in keys]
    n = sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
    return Lake(root, accounts, len(paths), n, sum(p.stat().st_size for p in paths), seconds)


def add_changes(lake: Lake, fraction: float, hubs: list[int], start_ms: int) -> int:
    """A later sync of ``hubs``: ``fraction`` of the lake's raw rows as contacts, half of them
    updates of existing ids, half new ids. Returns the rows written."""
    total = max(len(hubs), round(lake.raw_rows * fraction))
    per = total // len(hubs)
    written = 0
    for h in hubs:
        custom = {f"custom_{h % 3}": "string"}
        recs = [raw_lake.crm_record(i if i % 2 else 10_000_000 + i,
                                    {"email": f"changed{i}@x.io", f"custom_{h % 3}": "w"},
                                    raw_lake._iso(start_ms))
                for i in range(1, per + 1)]
        raw_lake.write_airbyte_parquet(lake.root, BUCKET, h, "contacts", recs, start_ms, 0, 2,
                                       raw_lake.account_schema("contacts", custom), 900)
        written += len(recs)
    return written


class PeakRss:
    """Peak resident memory of this process and its descendants (the Spark JVM), sampled from
    /proc every ``interval`` seconds while the block runs (no psutil in the venv)."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak = interval, 0

    @staticmethod
    def _tree_rss() -> int:
        me, parents, rss = os.getpid(), {}, {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    parents[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{d}/statm") as f:
                    rss[int(d)] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, IndexError):
                continue
        total, todo = 0, [me]
        while todo:
            p = todo.pop()
            total += rss.get(p, 0)
            todo += [c for c, pp in parents.items() if pp == p]
        return total

    def __enter__(self):
        import threading

        self._stop = threading.Event()

        def sample():
            while not self._stop.is_set():
                self.peak = max(self.peak, self._tree_rss())
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._tree_rss())

    @property
    def mib(self) -> float:
        return self.peak / 2**20
