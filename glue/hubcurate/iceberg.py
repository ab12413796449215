"""The curated tables as Apache Iceberg tables (format v2): one per entity for all accounts,
partitioned by ``hub_id``, one row per (hub_id, id).

Each run commits each table it touches once (the table's metadata pointer moves once), so a
reader sees the previous snapshot or the new one, never part of a run, and a run killed before
the commit leaves only unreferenced data files (Iceberg's ``remove_orphan_files`` removes
them): ``replace`` rewrites the accounts' rows (``overwrite(hub_id IN (...))``, copy-on-write),
``upsert`` merges new rows in (``MERGE INTO``, merge-on-read: position delete files mark the
replaced rows, so only the new rows are written). The run id is a snapshot summary property
(``hubcurate.run_id``).

Catalogs: on Glue the job's ``--conf`` sets up ``glue_catalog`` (Glue 5.1's native Iceberg,
``--datalake-formats iceberg``, the Glue Data Catalog; deploy/infra.py). Off Glue the same code
registers a Hadoop catalog on ``<lake_root>curated/`` at run time (glue/README.md says why).
"""
from __future__ import annotations

import hashlib

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .sqltext import cast, ident, named

GLUE_CATALOG = "glue_catalog"
DEFAULT_DATABASE = "hubspot"
# The job's own tables (processed raw files, run reports) live in "<database>_ops", so an
# analyst's SHOW TABLES in the curated database lists only entities (hubcurate/bookkeeping.py).
OPS_SUFFIX = "_ops"
RUN_PROPERTY = "hubcurate.run_id"
TABLE_PROPERTIES = {
    "format-version": "2",
    # MERGE INTO writes position deletes (format v2) and the new rows only; DELETE (the purge)
    # stays copy-on-write, so a purged account's files leave the table whole
    "write.merge.mode": "merge-on-read",
    "write.delete.mode": "copy-on-write",
    # every commit writes a new metadata JSON: keep the last 20, delete older ones at commit
    # (Iceberg table properties, "write.metadata.*"), so metadata does not grow with runs
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}
# Rows reach a write already clustered by account (build.merge shuffles them by hub_id once,
# for its window): Iceberg's default "hash" distribution would shuffle them all again. With
# "none" each task writes its accounts' files as they come (Iceberg still sorts a task's rows
# by partition, a sort the window's already satisfies); a write option, so existing tables
# need no ALTER (Iceberg's Spark write options, "distribution-mode").
WRITE_OPTIONS = {"distribution-mode": "none"}
# Spark 3.5 does not resolve MERGE INTO or UPDATE on a table that accepts any schema (its
# analyzer leaves the columns unresolved: UNRESOLVED_COLUMN naming the very column), so the
# property earlier tables were created with goes, and new columns are added by ALTER TABLE
# (Iceberg schema evolution all the same: new field ids, old rows read null).
RETIRED_PROPERTIES = ("write.spark.accept-any-schema",)
# Iceberg allows these type changes (widening) in place: https://iceberg.apache.org/spec/
WIDENING = {("int", "bigint"), ("float", "double")}


def local_catalog(spark, lake_root: str) -> str:
    """A Hadoop catalog on ``<lake_root>curated/``, named after the warehouse so one Spark
    session can serve several lakes (tests). Spark resolves ``spark.sql.catalog.<name>`` on the
    name's first use, so it can be registered after the session started."""
    warehouse = lake_root.rstrip("/") + "/curated"
    name = "lake_" + hashlib.sha1(warehouse.encode()).hexdigest()[:10]
    c = f"spark.sql.catalog.{name}"
    if spark.conf.get(c, None) is None:
        spark.conf.set(f"{c}.type", "hadoop")
        spark.conf.set(f"{c}.warehouse", warehouse)
        # another process (the local Glue, a query) may commit: always load the current metadata
        spark.conf.set(f"{c}.cache-enabled", "false")
        spark.conf.set(c, "org.apache.iceberg.spark.SparkCatalog")
    return name


class Tables:
    """The curated tables of one lake in one catalog and database (namespace)."""

    def __init__(self, spark, lake_root: str, database: str = "", catalog: str = ""):
        self.spark, self.lake_root = spark, lake_root
        self.database = database or DEFAULT_DATABASE
        if catalog and spark.conf.get(f"spark.sql.catalog.{catalog}", None) is None:
            raise RuntimeError(f"Iceberg catalog {catalog!r} is not configured: the job needs "
                               "--datalake-formats iceberg and the --conf deploy/infra.py sets "
                               "when the stage has GLUE_DATABASE")
        self.catalog = catalog or local_catalog(spark, lake_root)
        self._exists: set[str] = set()  # tables are never dropped: once there, always there
        self._settled: set[str] = set()  # tables whose properties _settle_properties checked

    def name(self, table: str) -> str:
        return f"{self.catalog}.{self.database}.{table}"

    def ops(self) -> Tables:
        """The job's bookkeeping tables: same catalog, the "<database>_ops" namespace."""
        return Tables(self.spark, self.lake_root, self.database + OPS_SUFFIX, self.catalog)

    def exists(self, table: str) -> bool:
        if table not in self._exists and self.spark.catalog.tableExists(self.name(table)):
            self._exists.add(table)
        return table in self._exists

    def hubs(self, table: str) -> set[str]:
        """Accounts with rows in the table (from Iceberg's partitions metadata table)."""
        if not self.exists(table):
            return set()
        return {r.h for r in self.spark.sql(
            f"SELECT partition.hub_id AS h FROM {self.name(table)}.partitions").collect()}

    def read(self, table: str, hubs=None) -> DataFrame | None:
        """The table's current snapshot (only ``hubs`` if given); None if there is no table."""
        if not self.exists(table):
            return None
        df = self.spark.table(self.name(table))
        return df if hubs is None else df.where(F.col("hub_id").isin(sorted(map(str, hubs))))

    def replace(self, df: DataFrame, table: str, hubs, run_id: str, kill: bool = False) -> dict:
        """Commit ``df`` as the whole content of the accounts ``hubs`` (one commit); an account
        in ``hubs`` without rows in ``df`` ends up empty. Returns {hub: {rows, deleted}} of the
        committed snapshot. ``kill`` fails the write's tasks midway (tests: a crash before the
        commit)."""
        hubs = sorted(map(str, hubs))
        if kill:
            df = df.where(F.assert_true(F.lit(False), "killed while writing").isNull())
        name = self.name(table)
        if not self.exists(table):
            # CTAS is staged: the table appears with its first data or not at all; Spark makes
            # every column optional (asNullable), so later writes may carry nulls anywhere.
            w = df.writeTo(name).using("iceberg").partitionedBy(F.col("hub_id"))
            for k, v in TABLE_PROPERTIES.items():
                w = w.tableProperty(k, v)
            w.options(**WRITE_OPTIONS).option(f"snapshot-property.{RUN_PROPERTY}", run_id) \
                .create()
        else:
            self._align(df, table).writeTo(name).options(**WRITE_OPTIONS) \
                .option(f"snapshot-property.{RUN_PROPERTY}", run_id) \
                .overwrite(F.col("hub_id").isin(hubs))
        return self.stats(table, hubs)

    def upsert(self, df: DataFrame, table: str, hubs, run_id: str, newer: str,
               kill: bool = False) -> dict:
        """Merge ``df`` (at most one row per (hub_id, id), of the accounts ``hubs``) into the
        existing table in one commit: a row replaces the account's row of its id where
        ``newer`` (SQL over ``s.`` the new row and ``t.`` the table's) holds, rows of new ids
        are added, every other row stays. Merge-on-read (``write.merge.mode``): the replaced
        rows get position deletes, so the commit writes the new rows only, where ``replace``
        rewrites every row of the accounts. Returns ``replace``'s stats."""
        hubs = sorted(map(str, hubs))
        if kill:
            df = df.where(F.assert_true(F.lit(False), "killed while writing").isNull())
        view = f"_upsert_{table}"
        self._align(df, table).createOrReplaceTempView(view)
        # the literal list prunes the target scan to the accounts' partitions
        sql = (f"MERGE INTO {self.name(table)} t USING {view} s "
               f"ON t.hub_id IN ({_hub_literals(hubs)}) AND t.hub_id = s.hub_id AND t.id = s.id "
               f"WHEN MATCHED AND ({newer}) THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
        try:
            _with_commit_property(self.spark, RUN_PROPERTY, run_id, lambda: self.spark.sql(sql))
        finally:
            self.spark.catalog.dropTempView(view)
        return self.stats(table, hubs)

    def append(self, df: DataFrame, table: str, run_id: str, partition=None) -> None:
        """One append commit (the table is created by its first one, partitioned by
        ``partition``, a column expression). Written as ``df`` is partitioned (distribution
        "none": the bookkeeping's rows come in one task, hubcurate/frames.py; Iceberg's hash
        distribution cost a shuffle, a Spark job of its own, to gather them again)."""
        name = self.name(table)
        if not self.exists(table):
            w = df.writeTo(name).using("iceberg")
            if partition is not None:
                w = w.partitionedBy(partition)
            for k, v in TABLE_PROPERTIES.items():
                w = w.tableProperty(k, v)
            w.options(**WRITE_OPTIONS).option(f"snapshot-property.{RUN_PROPERTY}", run_id) \
                .create()
        else:
            self._align(df, table).writeTo(name).options(**WRITE_OPTIONS) \
                .option(f"snapshot-property.{RUN_PROPERTY}", run_id).append()

    def _align(self, df: DataFrame, table: str) -> DataFrame:
        """``df`` as the table's columns in the table's order (Iceberg checks the order of a
        write; MERGE's ``*`` needs every column): the table's schema evolved first
        (``evolve``), then columns ``df`` lacks as typed nulls."""
        current = self.evolve(df, table)
        have = set(df.columns)
        return df.selectExpr(*[named(cast(ident(f.name) if f.name in have else "NULL", f.dataType),
                                     f.name) for f in current.fields])

    def evolve(self, df: DataFrame, table: str):
        """Iceberg schema evolution for ``df``'s columns the table lacks (ALTER TABLE ADD
        COLUMNS) or holds narrower (ALTER COLUMN TYPE, where Iceberg allows the widening);
        the first write after an upgrade also retires ``RETIRED_PROPERTIES`` and sets the
        table properties this code expects. -> the table's schema after. Metadata-only
        commits, no snapshot: readers see the same rows, with the new columns null."""
        name = self.name(table)
        self._settle_properties(table)
        current = self.spark.table(name).schema
        have = {f.name: f.dataType for f in current.fields}
        added = [f for f in df.schema.fields if f.name not in have]
        changed = []
        for f in df.schema.fields:
            old = have.get(f.name)
            if old is None or old == f.dataType or f.dataType.typeName() == "void":
                continue
            if (old.simpleString(), f.dataType.simpleString()) not in WIDENING:
                continue  # a narrower or other type: _align casts it to the table's
            changed.append(f)
        if added:
            cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in added)
            self.spark.sql(f"ALTER TABLE {name} ADD COLUMNS ({cols})")
        for f in changed:
            self.spark.sql(f"ALTER TABLE {name} ALTER COLUMN `{f.name}` TYPE "
                           f"{f.dataType.simpleString()}")
        return self.spark.table(name).schema if added or changed else current

    def _settle_properties(self, table: str) -> None:
        """Tables created before a property change get it on their first write after (once
        per table per run; two metadata-only commits at most, once in the table's life)."""
        if table in self._settled:
            return
        name = self.name(table)
        props = {r.key: r.value for r in self.spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}
        retired = [k for k in RETIRED_PROPERTIES if k in props]
        if retired:
            self.spark.sql(f"ALTER TABLE {name} UNSET TBLPROPERTIES "
                           f"({', '.join(repr(k) for k in retired)})")
        missing = {k: v for k, v in TABLE_PROPERTIES.items()
                   if k != "format-version" and props.get(k) != v}
        if missing:
            pairs = ", ".join(f"'{k}' = '{v}'" for k, v in missing.items())
            self.spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({pairs})")
        self._settled.add(table)

    def stats(self, table: str, hubs) -> dict:
        df = self.read(table, hubs)
        if df is None:
            return {}
        deleted = F.col("is_deleted").cast("int") if "is_deleted" in df.columns else F.lit(0)
        rows = df.groupBy("hub_id").agg(F.count("*").alias("rows"),
                                        F.sum(deleted).alias("deleted"))
        return {r.hub_id: {"rows": r.rows, "deleted": r.deleted or 0} for r in rows.collect()}

    def purge(self, hubs, retention_hours: float = 0) -> dict:
        """Delete the accounts' rows from every table, one commit per table (the filter is on
        the partition column: Iceberg drops whole files, a metadata-only delete), then expire
        the snapshots older than ``retention_hours`` (the current one always stays), which
        deletes the data files only they referenced: the accounts' files among them. Other
        accounts' reads work throughout (they read the current snapshot). {table: rows}."""
        hubs = sorted(map(str, hubs))
        out = {}
        for t in self.tables():
            held = self.stats(t, hubs)
            if not held:
                continue
            self.spark.sql(f"DELETE FROM {self.name(t)} WHERE hub_id IN ({_hub_literals(hubs)})")
            self.expire(t, retention_hours)
            out[t] = sum(v["rows"] for v in held.values())
        return out

    def _call(self, procedure: str, table: str, args: str = ""):
        """``CALL <catalog>.system.<procedure>(table => 'db.t', ...)``: Iceberg's Spark
        procedures (https://iceberg.apache.org/docs/latest/spark-procedures/)."""
        return self.spark.sql(f"CALL {self.catalog}.system.{procedure}(table => "
                              f"'{self.database}.{table}'{', ' + args if args else ''})").collect()

    def expire(self, table: str, retention_hours: float) -> int:
        """Expire the snapshots older than ``retention_hours`` (the current one always stays)
        and delete the data files only they referenced. Returns the data files deleted."""
        cutoff = _ago(retention_hours)
        r = self._call("expire_snapshots", table, f"older_than => TIMESTAMP '{cutoff}', "
                                                   "retain_last => 1")
        return int(r[0].deleted_data_files_count) if r else 0

    def compact(self, table: str) -> dict:
        """Rewrite small data files (binpack; Iceberg's defaults pick files under 75% of the
        512 MB target, in groups of at least 5 per partition) and every data file an upsert
        marked rows of (``delete-file-threshold`` 1: the position deletes are applied and the
        delete files no longer read; ``remove-dangling-deletes`` drops the delete files left
        without a data file, which needs the rewritten files to take a new sequence number:
        with ``use-starting-sequence-number`` they keep the delete's, so it stays "live"; that
        default guards against equality deletes committed meanwhile, and we write none).
        Partial progress commits each finished group, so a run stopped by the job's timeout
        keeps what it rewrote. Options: Iceberg 1.10's RewriteDataFiles
        and BinPackRewriteFilePlanner (Glue 5.1 ships 1.10.0)."""
        r = self._call("rewrite_data_files", table, "options => map("
                       "'partial-progress.enabled', 'true', 'partial-progress.max-commits', '10',"
                       " 'max-concurrent-file-group-rewrites', '4', 'delete-file-threshold', '1',"
                       " 'use-starting-sequence-number', 'false',"
                       " 'remove-dangling-deletes', 'true')")
        return {"rewritten": int(r[0].rewritten_data_files_count),
                "added": int(r[0].added_data_files_count)} if r else {}

    def remove_orphans(self, table: str, older_than_hours: float) -> int:
        """Delete files under the table's location that no snapshot references (a killed run's
        data files) and that are older than ``older_than_hours``: younger ones may belong to
        a write that has not committed yet."""
        r = self._call("remove_orphan_files", table,
                       f"older_than => TIMESTAMP '{_ago(older_than_hours)}'")
        return len(r)

    def snapshot(self, table: str) -> int | None:
        """The table's current snapshot id (None: no table or no snapshot yet)."""
        if not self.exists(table):
            return None
        r = self.spark.sql(f"SELECT snapshot_id FROM {self.name(table)}.snapshots "
                           "ORDER BY committed_at DESC LIMIT 1").first()
        return None if r is None else r.snapshot_id

    def tables(self) -> list[str]:
        try:
            return sorted(r.tableName for r in self.spark.sql(
                f"SHOW TABLES IN {self.catalog}.{self.database}").collect())
        except Exception as e:
            if any(m in str(e) for m in ("SCHEMA_NOT_FOUND", "NoSuchNamespace", "not found")):
                return []
            raise


def _hub_literals(hubs) -> str:
    """Hub ids as a SQL list of string literals (``'1', '2'``). They are numbers (the raw
    folders'): int() refuses anything else, so nothing can be injected."""
    return ", ".join(f"'{int(h)}'" for h in hubs)


def _with_commit_property(spark, key: str, value: str, action):
    """Run ``action`` (a Spark SQL statement) with a snapshot summary property on the commits
    it makes: SQL has no write options, so Iceberg's ``CommitMetadata.withCommitProperties``
    (a thread-local the commit reads) wraps it, calling back into Python through py4j's
    callback server (pinned threads: the callback runs on the Java thread that set it)."""
    from pyspark.java_gateway import ensure_callback_server_started

    gateway = spark.sparkContext._gateway
    ensure_callback_server_started(gateway)
    failure: list[BaseException] = []

    class _Callable:
        def call(self):
            try:
                action()
            except Exception as e:  # noqa: BLE001 (re-raised below, in the caller's thread)
                failure.append(e)
            return None

        class Java:
            implements = ["java.util.concurrent.Callable"]

    jvm = gateway.jvm
    props = jvm.java.util.HashMap()
    props.put(key, value)
    jvm.org.apache.iceberg.spark.CommitMetadata.withCommitProperties(
        props, _Callable(), jvm.java.lang.Class.forName("java.lang.RuntimeException"))
    if failure:
        raise failure[0]


def _ago(hours: float) -> str:
    """A Spark SQL timestamp literal ``hours`` ago (the session's time zone is UTC)."""
    import datetime as dt
    t = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    return f"{t:%Y-%m-%d %H:%M:%S.%f}"


def spark_conf() -> dict:
    """What a local SparkSession needs for Iceberg (jars and SQL extensions). Off Glue only:
    the jars come from local_stack/iceberg_jars.py (PyPI, relocated Jackson)."""
    import sys
    from pathlib import Path
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.append(root)
    from local_stack.iceberg_jars import spark_jars
    return {"spark.jars": spark_jars(),
            "spark.sql.extensions":
                "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"}
