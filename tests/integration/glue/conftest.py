import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "glue"))  # the job's library, as --extra-py-files gives it on Glue
sys.path.insert(0, str(ROOT))

T0 = 1_700_000_000_000  # ms
DAY = 86_400_000  # ms


@pytest.fixture(scope="session")
def spark():
    from hubcurate.glue_compat import local_spark
    s = local_spark()
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture
def lake(tmp_path):
    """(directory mirroring S3, bucket, lake_root url) for one test."""
    return tmp_path, "lake", f"file://{tmp_path}/lake/"


def rows(spark, root, table, hub=None):
    from hubcurate import reader
    df = reader.read_table(spark, root, table, [str(hub)] if hub else None)
    return {} if df is None else {(r.hub_id, r.id): r for r in df.collect()}


def ops_rows(root, table):
    """Every row of a bookkeeping table (<database>_ops: processed_files, run_reports)."""
    from local_stack import lake_query
    return lake_query.load(root, table, lake_query.OPS_DATABASE).scan().to_arrow().to_pylist()
