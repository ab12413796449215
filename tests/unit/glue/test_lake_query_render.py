"""local_stack.lake_query's rendering and its errors, without a lake (queries on a lake are in
tests/integration/glue/test_iceberg.py)."""
import json

import pytest

from local_stack import lake_query


def test_render_formats_and_errors(tmp_path, capsys):
    cols, rows = ["hub_id", "n", "note"], [("1", 2, None), ("22", 10, "a,b")]
    table = lake_query.render(cols, rows)
    assert "| hub_id | n  | note |" in table and "| 22     | 10 | a,b  |" in table
    assert table.endswith("(2 rows)") and "NULL" in table
    assert lake_query.render(cols, rows, "csv").splitlines() == ["hub_id,n,note", "1,2,",
                                                                  '22,10,"a,b"']
    assert json.loads(lake_query.render(cols, rows, "json"))[0] == {"hub_id": "1", "n": 2,
                                                                    "note": None}
    assert lake_query.main(["SELECT 1", "--lake", f"file://{tmp_path}/"]) == 1
    assert "no Iceberg tables" in capsys.readouterr().err
    with pytest.raises(lake_query.LakeError, match="only a local lake"):
        lake_query.query("SELECT 1", "s3://bucket/")
