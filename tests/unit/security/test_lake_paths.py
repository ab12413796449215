"""Lake paths are built from integer hub ids only (the install and webhook routes on the local
stack: tests/integration/security/test_install_and_webhooks.py)."""
from __future__ import annotations

import json

import pytest


def test_lake_paths_are_built_from_integer_hub_ids_only():
    from hubspot_app.lifecycle.uninstall import lake_prefixes, purge_lake

    assert lake_prefixes(123) == "raw/123/"
    for bad in ("123", "../123", "123/../124", -1, 0, True, 1.5, None):
        with pytest.raises(ValueError):
            lake_prefixes(bad)
        with pytest.raises(ValueError):
            purge_lake(None, "bucket", bad)


@pytest.mark.parametrize("key", ["raw/../curated/x.parquet", "raw/123/../x.parquet",
                                 "raw/abc/contacts/x.parquet", "raw/123/../../y/x.parquet",
                                 "raw/123/..%2F..%2Fother/x.parquet"])
def test_glue_trigger_refuses_traversing_keys(key):
    from hubspot_app.glue_trigger import hubs_from_body

    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": key}}}]}
    hubs, files, _ = hubs_from_body(json.dumps(event))
    assert all(h.isdigit() for h in hubs) and (files == 0 or hubs)
    assert not any(".." in h for h in hubs)
    from urllib.parse import unquote_plus

    parts = unquote_plus(key).split("/")
    assert files == 0 or (len(parts) == 4 and parts[1].isdigit() and ".." not in parts)
