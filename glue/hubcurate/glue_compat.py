"""Thin wrapper over GlueContext / Job / bookmarks. AWS's Glue JARs and ``awsglue`` are not on
PyPI, so off Glue the same script gets a plain local SparkSession and parses argv itself."""
from __future__ import annotations

import argparse
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


class GlueArgumentError(Exception):
    """A missing required argument or an argument without its value (as awsglue raises)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # awsglue's GlueArgumentParser: raise, never sys.exit()
        raise GlueArgumentError(message)


_BOOKMARK = ["--job-bookmark-option", "job-bookmark-enable", "job-bookmark-pause",
             "job-bookmark-disable"]
_CONTINUATION = ["--continuation-option", "continuation-enabled", "continuation-readonly",
                 "continuation-ignore"]
_RANGE = ["--job-bookmark-from", "--job-bookmark-to"]
_RESERVED_IDS = ["--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION"]


def local_resolved_options(args: list[str], options: list[str]) -> dict:
    """``awsglue.utils.getResolvedOptions`` off Glue, with the same behaviour. AWS documents it
    as ``getResolvedOptions(sys.argv, [names])``: every name is passed as ``--name value`` and
    read without the dashes (AWS Glue Developer Guide, "Accessing parameters using
    getResolvedOptions", https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-crawler-pyspark-extensions-get-resolved-options.html);
    its source (awslabs/aws-glue-libs, awsglue/utils.py) is an argparse parser over
    ``args[1:]``: each requested name is required and takes one value (a flag without a value
    is an error, not an empty string), unknown arguments are ignored, the reserved Glue
    arguments (JOB_ID, JOB_RUN_ID, bookmark options, TempDir) are optional, and errors raise
    instead of exiting. Mirrored here line for line in behaviour."""
    parser = _Parser()
    for reserved in (_BOOKMARK[0], _CONTINUATION[0], *_RANGE, *_RESERVED_IDS):
        if reserved[2:] in options:
            raise RuntimeError("Using reserved arguments " + reserved)
    parser.add_argument(_BOOKMARK[0], choices=_BOOKMARK[1:], required=False)
    parser.add_argument(_CONTINUATION[0], choices=_CONTINUATION[1:], required=False)
    for option in (*_RANGE, *_RESERVED_IDS):
        parser.add_argument(option, required=False)
    parser.add_argument("--encryption-type", choices=["sse-s3"])
    options = [o for o in options if o not in {"RedshiftTempDir", "TempDir"}]
    parser.add_argument("--RedshiftTempDir", required=False)
    parser.add_argument("--TempDir", required=False)
    for option in options:
        parser.add_argument("--" + option, required=True)
    parsed = vars(parser.parse_known_args(args[1:])[0])
    if parsed.get("TempDir") is not None:
        parsed["RedshiftTempDir"] = parsed["TempDir"]
    elif parsed.get("RedshiftTempDir") is not None:
        parsed["TempDir"] = parsed["RedshiftTempDir"]
    continuation = parsed.pop("continuation_option", None)
    if parsed.get("job_bookmark_option") is None:
        parsed["job_bookmark_option"] = _BOOKMARK[3] if continuation is None else \
            _BOOKMARK[_CONTINUATION.index(continuation)]
    absent = [o for o in _RANGE if parsed.get(o[2:].replace("-", "_")) is None]
    if parsed["job_bookmark_option"] == "job-bookmark-pause":
        if len(absent) == 1:
            raise RuntimeError("Missing option or value for " + absent[0])
    elif not absent:
        raise RuntimeError("Invalid option(s)" + " ".join(_RANGE))
    return parsed


def _given(argv: list[str], name: str) -> bool:
    return any(a == f"--{name}" or a.startswith(f"--{name}=") for a in argv[1:])


def resolve_args(argv: list[str], required: list[str], optional: dict[str, str]) -> dict:
    """Job arguments as Glue resolves them: ``awsglue.utils.getResolvedOptions`` on Glue, the
    same behaviour locally. getResolvedOptions has no optional arguments (every name asked for
    is required), so an optional one is asked for only when argv carries it, else its default
    applies. ``argv`` is ``sys.argv``: the script first."""
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]  # only inside Glue
    except ImportError:
        getResolvedOptions = local_resolved_options
    names = list(required) + [o for o in optional if _given(argv, o)]
    resolved = getResolvedOptions(argv, names)
    return {**optional, **{k: v for k, v in resolved.items() if v is not None}}


def local_spark(extra: dict | None = None):
    from pyspark.sql import SparkSession

    from .iceberg import spark_conf
    b = SparkSession.builder.appName("hubspot-curate")
    for k, v in {**LOCAL_CONF, **spark_conf(), **(extra or {})}.items():
        b = b.config(k, v)
    return b.getOrCreate()


class GlueRun:
    """``spark``, ``args``, ``on_glue``; ``commit()`` commits the Glue job (and its bookmark)."""

    def __init__(self, argv=None, required=(), optional=None, spark=None):
        """``argv``: the job's arguments without the script (sys.argv[1:] by default)."""
        argv = sys.argv[1:] if argv is None else argv
        self.args = resolve_args(["job", *argv], list(required), optional or {})
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
        # Job.init needs JOB_NAME. Bookmarks are off (glue/job.json): commit() then only ends
        # the run; the job's processed_files table says which raw files are processed.
        self._job.init(self.args.get("JOB_NAME", "hubspot-curate"), self.args)

    def commit(self):
        if self._job is not None:
            self._job.commit()
