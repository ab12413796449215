"""Thin wrapper over GlueContext / Job / bookmarks. AWS's Glue JARs and ``awsglue`` are not on
PyPI, so off Glue the same script gets a plain local SparkSession and parses argv itself."""
from __future__ import annotations

import sys

LOCAL_CONF = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.driver.memory": "2g",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "1000000",
}
# Set on Glue too: the curated tables must not depend on the cluster's defaults.
SESSION_CONF = {k: LOCAL_CONF[k] for k in
                ("spark.sql.session.timeZone", "spark.sql.parquet.outputTimestampType")}


def parse_args(argv: list[str], defaults: dict[str, str]) -> dict[str, str]:
    """``--name value`` / ``--name=value`` pairs, as Glue passes job arguments."""
    args, i = dict(defaults), 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            if "=" in a:
                k, v = a[2:].split("=", 1)
            else:
                k, v = a[2:], argv[i + 1] if i + 1 < len(argv) else ""
                i += 1
            args[k] = v
        i += 1
    return args


def local_spark(extra: dict | None = None):
    from pyspark.sql import SparkSession
    b = SparkSession.builder.appName("hubspot-curate")
    for k, v in {**LOCAL_CONF, **(extra or {})}.items():
        b = b.config(k, v)
    return b.getOrCreate()


class GlueRun:
    """``spark``, ``args``, ``on_glue``; ``commit()`` commits the Glue job (and its bookmark)."""

    def __init__(self, argv=None, defaults=None, spark=None):
        argv = sys.argv[1:] if argv is None else argv
        self.args = parse_args(argv, defaults or {})
        self._job = None
        try:
            from awsglue.context import GlueContext  # type: ignore[import-not-found]  # only inside Glue
            from awsglue.job import Job  # type: ignore[import-not-found]  # only inside Glue
            from pyspark.context import SparkContext
        except ImportError:
            self.on_glue = False
            self.spark = spark or local_spark()
            return
        self.on_glue = True
        glue_context = GlueContext(SparkContext.getOrCreate())
        self.spark = glue_context.spark_session
        for k, v in SESSION_CONF.items():
            self.spark.conf.set(k, v)
        self._job = Job(glue_context)
        # Job.init needs JOB_NAME; with --job-bookmark-option job-bookmark-enable Glue then
        # keeps this run's bookmark state until commit().
        self._job.init(self.args.get("JOB_NAME", "hubspot-curate"), self.args)

    def commit(self):
        if self._job is not None:
            self._job.commit()
