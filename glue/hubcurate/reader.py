"""How to read the curated layer with Spark: the Iceberg tables' current snapshots through the
catalog (hubcurate/iceberg.py), never by listing ``curated/`` (data files of older snapshots and
of killed runs live there too). Without Spark: local_stack/lake_query.py (pyiceberg, DuckDB)."""
from __future__ import annotations

from . import iceberg


def tables(spark, lake_root: str, database: str = "", catalog: str = "") -> list[str]:
    return iceberg.Tables(spark, lake_root, database, catalog).tables()


def read_table(spark, lake_root: str, table: str, hubs=None, database: str = "",
               catalog: str = ""):
    """The current snapshot of the table (only ``hubs`` if given); None if there is no table."""
    return iceberg.Tables(spark, lake_root, database, catalog).read(table, hubs)
