"""The analysts' SQL, one file each under glue/sql/: the models (views over the curated Iceberg
tables) in glue/sql/models/, the example questions in glue/sql/examples/.

Written once, in Athena engine v3's dialect (Trino), since that is what runs them on AWS: the
template carries each as an Athena named query (deploy/infra.py), and `python -m deploy
athena-views` creates the views. Locally `./dev query` runs the same text on DuckDB after
sqlglot translates it (``to_duckdb``); tests/unit/glue/test_models.py parses every file as Trino SQL
and checks each model's rows on DuckDB against known input.

A file starts with ``--`` header lines, ``key: value`` (a value may go on over further ``--``
lines): a model has ``grain`` (what one row is) and ``reads`` (the tables and models it
selects from); an example has ``question``. The rest is one SELECT, without a trailing ``;``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SQL_ROOT = Path(__file__).resolve().parents[1] / "glue" / "sql"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")   # Athena view names: lower case, digits, underscore


@dataclass(frozen=True)
class Model:
    name: str
    about: str          # the header's first line
    grain: str
    reads: tuple[str, ...]
    sql: str

    def create_view(self) -> str:
        return f"CREATE OR REPLACE VIEW {self.name} AS\n{self.sql}"


@dataclass(frozen=True)
class Example:
    name: str
    question: str
    reads: tuple[str, ...]
    sql: str


def _parse(path: Path) -> tuple[dict[str, str], str]:
    header: dict[str, str] = {}
    lines = path.read_text().splitlines()
    end = next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))
    key = None
    for line in lines[:end]:
        text = line[2:].strip()
        m = re.match(r"^([a-z]+):\s*(.*)$", text)
        if m and m.group(1) in ("grain", "reads", "question"):
            key = m.group(1)
            header[key] = m.group(2)
        elif key is None:
            header["about"] = f"{header.get('about', '')} {text}".strip()
        else:
            header[key] = f"{header[key]} {text}".strip()
    sql = "\n".join(lines[end:]).strip()
    if not sql or sql.endswith(";"):
        raise ValueError(f"{path}: one SELECT after the header, without a trailing ';'")
    return header, sql


def _reads(header: dict[str, str], path: Path) -> tuple[str, ...]:
    reads = tuple(r.strip() for r in header.get("reads", "").split(",") if r.strip())
    if not reads:
        raise ValueError(f"{path}: no '-- reads:' line")
    return reads


def models() -> list[Model]:
    """Every model, each after the models it reads (views are created in this order)."""
    found = {}
    for path in sorted((SQL_ROOT / "models").glob("*.sql")):
        header, sql = _parse(path)
        if not _NAME.match(path.stem) or not header.get("grain"):
            raise ValueError(f"{path}: a lower-case name and a '-- grain:' line are required")
        found[path.stem] = Model(path.stem, header.get("about", ""), header["grain"],
                                 _reads(header, path), sql)
    ordered: list[Model] = []

    def visit(m: Model, seen: tuple[str, ...]) -> None:
        if m in ordered:
            return
        if m.name in seen:
            raise ValueError(f"models read each other in a cycle: {' -> '.join(seen)}")
        for r in m.reads:
            if r in found:
                visit(found[r], (*seen, m.name))
        ordered.append(m)
    for m in found.values():
        visit(m, ())
    return ordered


def examples() -> list[Example]:
    out = []
    for path in sorted((SQL_ROOT / "examples").glob("*.sql")):
        header, sql = _parse(path)
        if not header.get("question"):
            raise ValueError(f"{path}: no '-- question:' line")
        out.append(Example(path.stem, header["question"], _reads(header, path), sql))
    return out


def to_duckdb(sql: str) -> str:
    """The Trino text as DuckDB runs it (sqlglot: element_at on a map becomes a subscript,
    json_extract_scalar ->>, from_iso8601_timestamp a cast, sequence generate_series ...)."""
    import sqlglot
    return sqlglot.transpile(sql, read="trino", write="duckdb")[0]


def create_views(database: str, workgroup: str, athena, glue, poll_seconds: float = 1.0,
                 timeout_seconds: float = 300.0) -> list[tuple[str, str]]:
    """Run each model's CREATE OR REPLACE VIEW on Athena, in model order, in the stage's
    workgroup and database. Athena checks the tables a view reads when it is created, so a model
    whose tables the curate job has not made yet (no account synced that stream) is skipped and
    named; run this again after later curate runs (it is idempotent). [(model, outcome)]"""
    import time
    have = {t["Name"] for page in glue.get_paginator("get_tables").paginate(DatabaseName=database)
            for t in page["TableList"]}
    out = []
    for m in models():
        missing = [r for r in m.reads if r not in have]
        if missing:
            out.append((m.name, f"skipped: no {', '.join(missing)} yet"))
            continue
        qid = athena.start_query_execution(
            QueryString=m.create_view(), WorkGroup=workgroup,
            QueryExecutionContext={"Database": database})["QueryExecutionId"]
        deadline = time.monotonic() + timeout_seconds
        while True:
            status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
            if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") or \
                    time.monotonic() > deadline:
                break
            time.sleep(poll_seconds)
        if status["State"] == "SUCCEEDED":
            have.add(m.name)
            out.append((m.name, "created"))
        else:
            out.append((m.name, f"{status['State']}: {status.get('StateChangeReason', '')}".strip()))
    return out


def tables_behind(names) -> set[str]:
    """The curated tables under ``names`` (tables, or models: expanded through what they read)."""
    models_by_name = {m.name: m for m in models()}
    out: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in models_by_name:
            stack += models_by_name[name].reads
        else:
            out.add(name)
    return out
