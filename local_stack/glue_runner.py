"""Local stand-in for AWS Glue's ``start_job_run``: runs glue/curate_job.py on local PySpark.

Behaves like the boto3 Glue client for what the trigger uses: ``start_job_run`` returns a
JobRunId at once and the run goes on in a background thread; with ``max_concurrent_runs``
reached it raises ConcurrentRunsExceededException (as Glue does without JobRunQueuingEnabled),
or queues the run when ``queuing=True``.

Spark reads a local directory, not moto's S3 (s3a needs hadoop-aws jars from Maven), so with an
S3 client the runner mirrors the bucket: before a run it downloads the raw files of the run's
accounts that the mirror lacks or holds at another ETag (an object rewritten under the same
key is downloaded again, so the job's ledger sees a new local identity), after it
uploads what the run changed under ``curated/`` (Iceberg data files first, then metadata, each
table's ``version-hint.text`` last, so an S3 reader never sees a snapshot before its files) and
deletes what the run removed. Only what the run removed: an object someone else wrote to S3
meanwhile is not the job's to delete (real Glue never touches keys its job did not delete)."""
from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from botocore.exceptions import ClientError

GLUE_DIR = Path(__file__).resolve().parents[1] / "glue"


def _default_job(argv: list[str]) -> dict:
    if str(GLUE_DIR) not in sys.path:
        sys.path.insert(0, str(GLUE_DIR))
    import curate_job
    return curate_job.main(argv)


class LocalGlue:
    def __init__(self, mirror_dir, bucket: str, s3=None, max_concurrent_runs: int = 1,
                 queuing: bool = False, job=None, synchronous: bool = False):
        self.mirror, self.bucket, self.s3 = Path(mirror_dir), bucket, s3
        self.lake_root = f"file://{self.mirror / bucket}/"
        self.max, self.queuing, self.synchronous = max_concurrent_runs, queuing, synchronous
        self.job = job or _default_job
        self.runs: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent_runs)  # Spark: one at a time

    # -- the boto3-shaped API ------------------------------------------------------------
    def start_job_run(self, JobName: str, Arguments: dict | None = None, **_) -> dict:
        with self._lock:
            active = [r for r in self.runs.values() if r["JobRunState"] in ("RUNNING", "WAITING")]
            if len(active) >= self.max and not self.queuing:
                raise ClientError({"Error": {"Code": "ConcurrentRunsExceededException",
                                             "Message": f"Concurrent runs exceeded for {JobName}"}},
                                  "StartJobRun")
            run_id = "jr_" + uuid.uuid4().hex
            run = {"Id": run_id, "JobName": JobName, "Arguments": dict(Arguments or {}),
                   "JobRunState": "WAITING" if active else "RUNNING"}
            self.runs[run_id] = run
        if self.synchronous:
            self._execute(run)
        else:
            run["future"] = self._pool.submit(self._execute, run)
        return {"JobRunId": run_id}

    def get_job_run(self, JobName: str, RunId: str, **_) -> dict:
        return {"JobRun": {k: v for k, v in self.runs[RunId].items() if k != "future"}}

    # -- helpers ---------------------------------------------------------------------------
    def wait(self) -> None:
        for r in list(self.runs.values()):
            if "future" in r:
                r["future"].result()

    def _execute(self, run: dict) -> None:
        run["JobRunState"], run["StartedOn"] = "RUNNING", time.time()  # epoch s, as AWS JSON
        args = {"--lake_root": self.lake_root, "--run_id": run["Id"], **run["Arguments"]}
        args["--lake_root"] = self.lake_root  # the mirror, whatever S3 root the trigger passed
        try:
            if self.s3 is not None:
                self.pull(args.get("--hub_ids", "ALL"))
            before = set(self._local_curated())
            run["report"] = self.job([x for kv in args.items() for x in kv])
            if self.s3 is not None:
                self.push(before)
            run["JobRunState"] = "SUCCEEDED"
        except Exception as e:  # noqa: BLE001 - recorded like Glue's ErrorMessage
            run["JobRunState"], run["ErrorMessage"] = "FAILED", repr(e)
        finally:
            run["CompletedOn"] = time.time()

    def _keys(self, prefix: str) -> dict[str, str]:
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=prefix):
            out.update({o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])})
        return out

    @property
    def _etags_record(self) -> Path:
        return self.mirror / f".{self.bucket}.etags.json"  # outside the mirrored bucket

    def _download(self, key: str) -> None:
        dest = self.mirror / self.bucket / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name("." + dest.name + ".part")
        self.s3.download_file(self.bucket, key, str(tmp))
        tmp.replace(dest)

    def pull(self, hub_ids: str) -> int:
        """Bring the mirror up to S3: the run's raw files, and everything under ``curated/``
        that another writer changed or deleted since the last run (S3 is the truth: an
        operator's ``ops quarantine retry`` edits records there, as it would for real Glue)."""
        prefixes = ["raw/"] if hub_ids in ("ALL", "*", "") else \
            [f"raw/{h}/" for h in hub_ids.split(",")]
        record = self._etags_record
        etags = json.loads(record.read_text()) if record.exists() else {}
        n = 0
        for p in prefixes:
            for key, etag in self._keys(p).items():
                if not (self.mirror / self.bucket / key).exists() or etags.get(key, etag) != etag:
                    self._download(key)
                    n += 1
                etags[key] = etag
        remote = self._keys("curated/")
        for key, etag in remote.items():
            if etags.get(key) != etag:
                self._download(key)
                etags[key] = etag
        for key in [k for k in etags if k.startswith("curated/") and k not in remote]:
            (self.mirror / self.bucket / key).unlink(missing_ok=True)
            del etags[key]
        record.write_text(json.dumps(etags))
        return n

    def _local_curated(self) -> dict[str, Path]:
        root = self.mirror / self.bucket
        return {str(p.relative_to(root)): p for p in (root / "curated").rglob("*")
                if p.is_file() and not p.name.startswith((".", "_SUCCESS"))}

    def push(self, before: set[str]) -> None:
        """Upload what changed; delete the keys of `before` (the mirror's files before the
        run) that the run deleted locally."""
        local = self._local_curated()
        remote = self._keys("curated/")
        changed = [k for k, p in local.items()
                   if remote.get(k) != hashlib.md5(p.read_bytes()).hexdigest()]
        for k in sorted(changed, key=lambda k: (k.endswith("version-hint.text"),
                                                 "/metadata/" in k, k)):
            self.s3.upload_file(str(local[k]), self.bucket, k)
        gone = [{"Key": k} for k in remote if k in before and k not in local]
        for i in range(0, len(gone), 1000):
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": gone[i:i + 1000]})
        record = self._etags_record
        etags = json.loads(record.read_text()) if record.exists() else {}
        etags = {k: v for k, v in etags.items() if not k.startswith("curated/")}
        etags.update({k: e for k, e in self._keys("curated/").items() if k in local})
        record.write_text(json.dumps(etags))
