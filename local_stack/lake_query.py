"""SQL over the local lake's curated Iceberg tables without Spark: pyiceberg reads each table's
current snapshot (``StaticTable`` on the metadata file the Hadoop catalog's
``metadata/version-hint.text`` names) into Arrow, DuckDB runs the SQL over it. This is also the
independent reader the tests compare the Spark job's counts with (tests/integration/glue/test_iceberg.py).

DuckDB's own ``iceberg`` extension is not used: DuckDB downloads extensions from
extensions.duckdb.org at ``INSTALL``, which is not reachable here (and not a package registry).

    python -m local_stack.lake_query "SELECT hub_id, count(*) FROM deals GROUP BY 1"
    python -m local_stack.lake_query "SELECT * FROM hubspot_ops.run_reports"
        [--lake file:///dir/bucket/] [--database hubspot] [--format table|csv|json]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_DATABASE = "hubspot"  # glue/hubcurate/iceberg.DEFAULT_DATABASE
OPS_SUFFIX = "_ops"           # glue/hubcurate/iceberg.OPS_SUFFIX: the job's bookkeeping tables
OPS_DATABASE = DEFAULT_DATABASE + OPS_SUFFIX
# `./dev main` keeps the local Glue's mirror of the lake here (local_stack/stack.py).
KEPT_MIRROR_VAR = "HUBSPOT_GLUE_MIRROR"
KEPT_MIRROR = Path(__file__).resolve().parents[1] / ".local-stack" / "glue-mirror"


class LakeError(Exception):
    """No lake, no such table, or SQL DuckDB refuses: a message for the user, no traceback."""


def default_lake() -> str:
    """The lake the last `./dev main` curated (its Glue mirror's one bucket)."""
    mirror = Path(os.environ.get(KEPT_MIRROR_VAR) or KEPT_MIRROR)
    buckets = sorted(p for p in mirror.glob("*") if (p / "curated").is_dir())
    if not buckets:
        raise LakeError(f"no curated lake under {mirror}: run ./dev main first, or pass --lake")
    return f"file://{buckets[-1]}/"


def warehouse(lake_root: str, database: str = DEFAULT_DATABASE) -> Path:
    u = urlparse(lake_root)
    if u.scheme not in ("file", ""):
        raise LakeError(f"{lake_root}: only a local lake (file:///...) is read here; on AWS "
                        "use Athena on the Glue database")
    return Path(u.path) / "curated" / database


def table_names(lake_root: str, database: str = DEFAULT_DATABASE) -> list[str]:
    base = warehouse(lake_root, database)
    return sorted(p.parent.parent.name for p in base.glob("*/metadata/version-hint.text"))


def load(lake_root: str, table: str, database: str = DEFAULT_DATABASE):
    """The table at its current snapshot (pyiceberg StaticTable)."""
    from pyiceberg.table import StaticTable
    meta = warehouse(lake_root, database) / table / "metadata"
    try:
        version = (meta / "version-hint.text").read_text().strip()
    except FileNotFoundError:
        raise LakeError(f"no table {table!r} in {warehouse(lake_root, database)}") from None
    return StaticTable.from_metadata(f"file://{meta}/v{version}.metadata.json")


def summary(lake_root: str, database: str = DEFAULT_DATABASE) -> dict:
    """{table: {hub_id: {"rows", "live", "deleted"}}} read with pyiceberg + DuckDB."""
    import duckdb
    out = {}
    for t in table_names(lake_root, database):
        table = load(lake_root, t, database)
        # tables without deletions (association_labels: a snapshot replaces its pairs) count
        # every row as live
        deleted = "is_deleted" in {f.name for f in table.schema().fields}
        arrow = table.scan(selected_fields=("hub_id", "is_deleted") if deleted
                           else ("hub_id",)).to_arrow()
        con = duckdb.connect()
        con.register("t", arrow)
        out[t] = {h: {"rows": n, "live": n - d, "deleted": d} for h, n, d in con.execute(
            "SELECT hub_id, count(*), "
            f"{'coalesce(sum(is_deleted::int), 0)' if deleted else '0'} FROM t GROUP BY 1"
        ).fetchall()}
    return out


def _models_needed(words: set[str], tables: set[str]):
    """The analyst models (deploy/analyst_sql.py) the SQL names, with the models they read,
    in creation order; and the tables they all read."""
    from deploy import analyst_sql
    models = {m.name: m for m in analyst_sql.models()}
    want: set[str] = set()
    stack = [w for w in words if w in models]
    while stack:
        name = stack.pop()
        if name not in want:
            want.add(name)
            stack += [r for r in models[name].reads if r in models]
    ordered = [m for m in models.values() if m.name in want]
    return ordered, {r for m in ordered for r in m.reads if r in tables}


def connect(arrow_tables: dict, words: set[str] | None = None):
    """A DuckDB connection with ``arrow_tables`` ({name: Arrow table}) and, as views, the analyst
    models the ``words`` name (all when None) whose tables are there. Timestamps are UTC."""
    import duckdb

    from deploy import analyst_sql
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # casts between timestamptz and timestamp, as on Athena
    for name, arrow in arrow_tables.items():
        con.register(name, arrow)
    have = set(arrow_tables)
    models = analyst_sql.models() if words is None else _models_needed(words, have)[0]
    for m in models:
        if all(r in have for r in m.reads):  # a model over a table no account has yet: skipped
            con.execute(f"CREATE VIEW {m.name} AS {analyst_sql.to_duckdb(m.sql)}")
            have.add(m.name)
    return con


def query(sql: str, lake_root: str, database: str = DEFAULT_DATABASE, dialect: str = "duckdb"):
    """(column names, rows). Only the tables the SQL names are read, with those the analyst
    models it names read. ``dialect="trino"``: Athena's SQL, translated (sqlglot). The job's
    bookkeeping tables go by ``<database>_ops.<name>`` (their namespace, as on Athena), e.g.
    ``hubspot_ops.run_reports``."""
    import duckdb
    names = table_names(lake_root, database)
    ops = database + OPS_SUFFIX
    ops_names = table_names(lake_root, ops)
    if not names and not ops_names:
        raise LakeError(f"no Iceberg tables in {warehouse(lake_root, database)}")
    if dialect == "trino":
        from deploy import analyst_sql
        sql = analyst_sql.to_duckdb(sql)
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    _, model_tables = _models_needed(words, set(names))
    con = connect({t: load(lake_root, t, database).scan().to_arrow() for t in names
                   if t in words or t in model_tables}, words)
    if ops in words and ops_names:
        con.execute(f"CREATE SCHEMA {ops}")
        for t in ops_names:
            if t in words:
                con.register(f"_{ops}_{t}", load(lake_root, t, ops).scan().to_arrow())
                con.execute(f"CREATE VIEW {ops}.{t} AS SELECT * FROM _{ops}_{t}")
    try:
        rel = con.sql(sql)
        if rel is None:
            return [], []
        # through Arrow: DuckDB's own conversion of timestamptz values needs pytz
        arrow = rel.to_arrow_table()
        return list(rel.columns), list(zip(*(c.to_pylist() for c in arrow.columns), strict=True))
    except duckdb.Error as e:
        listed = ", ".join([*names, *(f"{ops}.{t}" for t in ops_names)])
        raise LakeError(f"{e}\n(tables: {listed})") from None


def render(columns: list[str], rows: list, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows(["" if v is None else v for v in r] for r in rows)
        return buf.getvalue()
    cells = [["NULL" if v is None else str(v) for v in r] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def fmt_row(r):
        return "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |"
    return "\n".join([line, fmt_row(columns), line, *map(fmt_row, cells), line,
                      f"({len(rows)} row{'s' if len(rows) != 1 else ''})"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="./dev query", description=(
        "SQL (DuckDB dialect) over the local lake's curated Iceberg tables, read with pyiceberg. "
        "Tables: one per entity (contacts, deals, ...), all accounts, column hub_id; views: the "
        "analyst models of glue/sql/models (deals_enriched, deal_stage_history, ...); the job's "
        "own as hubspot_ops.run_reports and hubspot_ops.processed_files."))
    p.add_argument("sql")
    p.add_argument("--lake", help="lake root (file:///dir/bucket/); default: the last ./dev main's")
    p.add_argument("--database", default=DEFAULT_DATABASE)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--trino", action="store_true",
                   help="the SQL is Athena's dialect (Trino), as in glue/sql/; translated to DuckDB")
    a = p.parse_args(argv)
    try:
        cols, rows = query(a.sql, a.lake or default_lake(), a.database,
                           "trino" if a.trino else "duckdb")
    except LakeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(render(cols, rows, a.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
