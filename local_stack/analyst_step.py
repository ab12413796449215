"""The main job's last step: the README's example questions (glue/sql/examples, Athena's SQL),
answered over the curated Iceberg tables and the analyst models as `./dev query --trino` would."""
from __future__ import annotations

from deploy import analyst_sql

from . import lake_query

SHOWN_ROWS = 8


def answer_examples(lake_root: str, step: str = "14") -> bool:
    """Print each example question and its answer (the first rows); False if one fails."""
    title = f"{step}. The analysts' example questions (glue/sql/examples; Athena named queries)"
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)), flush=True)
    ok = True
    tables = set(lake_query.table_names(lake_root))
    for e in analyst_sql.examples():
        print(f"\n  {e.question}  [{e.name}]")
        missing = sorted(analyst_sql.tables_behind(e.reads) - tables)
        if missing:  # a run that syncs some streams only (--streams): not a failure
            print(f"  skipped: no {', '.join(missing)} table (no account synced it)")
            continue
        try:
            cols, rows = lake_query.query(e.sql, lake_root, dialect="trino")
        except lake_query.LakeError as err:
            print(f"  FAILED: {str(err).splitlines()[0]}")
            ok = False
            continue
        text = lake_query.render(cols, rows[:SHOWN_ROWS])
        if len(rows) > SHOWN_ROWS:  # the table's "(8 rows)" line says how many are shown
            text = text.rsplit("\n", 1)[0] + f"\n(the first {SHOWN_ROWS} of {len(rows)} rows)"
        print("\n".join("  " + line for line in text.splitlines()))
    return ok
