"""Small objects of the lake (quarantine records) and listings, on S3 or a local
directory. Spark reads and writes the data itself through ``path(key)``.

``listing(prefix)`` gives each object's size and identity: S3's ETag (changes when an object
is overwritten with new content), locally size + modification time. ``ends(key)`` reads a
file's first 4 and last 8 bytes (a Parquet file's magic and footer length) without reading it.

A missing key is ``default``/None only when S3 says 404 (NoSuchKey). S3 answers a GET of a
missing key with 404 only to a caller allowed s3:ListBucket on the bucket and with 403
otherwise (S3 API Reference, GetObject, "Permissions"), so a 403 is never taken for "missing":
a quarantine record read as empty would make the run retry files an operator has not released.
``StoreError`` names the key and the permission to check."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

from botocore.exceptions import ClientError


class StoreError(RuntimeError):
    """An S3 call the job cannot treat as an answer (403, throttling after retries, ...)."""

    def __init__(self, what: str, error: ClientError | None):
        code = error.response.get("Error", {}).get("Code", "") if error is not None else ""
        hint = " (the job's role needs s3:ListBucket on the lake bucket, unconditioned, for a " \
               "missing key to answer 404, and s3:GetObject/PutObject on the key)" \
            if code in ("AccessDenied", "403") else ""
        super().__init__(f"{what} failed{': ' + code if code else ''}{hint}")
        self.code = code


class LocalStore:
    def __init__(self, root: str):
        self.root = Path(urlparse(root).path if root.startswith("file:") else root)
        self.url = "file://" + str(self.root).rstrip("/") + "/"

    def path(self, key: str) -> str:
        return self.url + key

    def listing(self, prefix: str) -> dict[str, tuple[int, str]]:
        base, out = self.root / prefix, {}
        for d, _dirs, files in os.walk(base):
            for f in files:
                if not f.startswith("."):  # in-flight temp files
                    p = Path(d, f)
                    st = p.stat()
                    out[str(p.relative_to(self.root))] = (st.st_size,
                                                          f"{st.st_size:x}-{st.st_mtime_ns:x}")
        return out

    def list(self, prefix: str) -> dict[str, int]:
        return {k: size for k, (size, _) in self.listing(prefix).items()}

    def ends(self, key: str) -> tuple[bytes, bytes]:
        with open(self.root / key, "rb") as f:
            head = f.read(4)
            f.seek(max(0, os.fstat(f.fileno()).st_size - 8))
            return head, f.read(8)

    def get_json(self, key: str, default=None):
        p = self.root / key
        return json.loads(p.read_text()) if p.exists() else default

    def put_json(self, key: str, obj) -> None:
        p = self.root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(obj, sort_keys=True, default=str))
        os.replace(tmp, p)  # readers see the old or the new object, never half of one

    def delete_prefix(self, prefix: str) -> None:
        p = self.root / prefix
        if p.is_file():  # one object's key, as S3's prefix listing would match it
            p.unlink()
        shutil.rmtree(p, ignore_errors=True)


class S3Store:
    def __init__(self, root: str, client=None):
        u = urlparse(root)
        self.bucket, self.base = u.netloc, u.path.lstrip("/")
        self.url = f"s3://{self.bucket}/{self.base}"
        if client is None:
            import boto3
            client = boto3.client("s3")
        self.s3 = client

    def path(self, key: str) -> str:
        return self.url + key

    def listing(self, prefix: str) -> dict[str, tuple[int, str]]:
        """Every object under the prefix: ListObjectsV2 returns at most 1,000 keys a page,
        the paginator follows NextContinuationToken to the end."""
        out = {}
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=self.base + prefix):
                for o in page.get("Contents", []):
                    out[o["Key"][len(self.base):]] = (o["Size"], o["ETag"].strip('"'))
        except ClientError as e:
            raise StoreError(f"listing s3://{self.bucket}/{self.base}{prefix}", e) from e
        return out

    def list(self, prefix: str) -> dict[str, int]:
        return {k: size for k, (size, _) in self.listing(prefix).items()}

    def _get(self, key: str, **kw) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=self.base + key, **kw)["Body"].read()
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StoreError(f"reading s3://{self.bucket}/{self.base}{key}", e) from e

    def get_json(self, key: str, default=None):
        body = self._get(key)
        return default if body is None else json.loads(body)

    def ends(self, key: str) -> tuple[bytes, bytes]:
        head, tail = self._get(key, Range="bytes=0-3"), self._get(key, Range="bytes=-8")
        if head is None or tail is None:
            raise StoreError(f"reading s3://{self.bucket}/{self.base}{key}", None)
        return head, tail

    def put_json(self, key: str, obj) -> None:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.base + key,
                               Body=json.dumps(obj, sort_keys=True, default=str).encode())
        except ClientError as e:
            raise StoreError(f"writing s3://{self.bucket}/{self.base}{key}", e) from e

    def delete_prefix(self, prefix: str) -> None:
        keys = [{"Key": self.base + k} for k in self.list(prefix)]
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            try:
                answer = self.s3.delete_objects(Bucket=self.bucket,
                                                Delete={"Objects": keys[i:i + 1000]})
            except ClientError as e:
                raise StoreError(f"deleting under s3://{self.bucket}/{self.base}{prefix}", e) from e
            if answer.get("Errors"):  # a 200 answer can still refuse some keys
                first = answer["Errors"][0]
                raise StoreError(f"deleting s3://{self.bucket}/{first.get('Key')} "
                                 f"({len(answer['Errors'])} key(s) refused: {first.get('Code')})",
                                 None)


def open_store(lake_root: str):
    """``s3://bucket/`` on Glue, ``file:///dir/`` (or a plain path) locally."""
    return S3Store(lake_root) if lake_root.startswith("s3") else LocalStore(lake_root)
