"""Shared, session-cached deploy artefacts: `chalice package` runs once per stage per session."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy import infra
from deploy.__main__ import chalice_package

DEPLOYED_STAGES = ("dev", "prod")


@pytest.fixture(scope="session")
def app_model():
    """app.py's functions and event sources per stage, as `chalice package` imports it."""
    cache: dict[str, dict] = {}

    def get(stage: str) -> dict:
        if stage not in cache:
            cache[stage] = infra.introspect_app(stage)
        return cache[stage]
    return get


@pytest.fixture(scope="session")
def merge_template(app_model):
    cache: dict[str, dict] = {}

    def get(stage: str) -> dict:
        if stage not in cache:
            cache[stage] = infra.build(stage, app_model(stage))
        return cache[stage]
    return get


@pytest.fixture(scope="session")
def packaged(tmp_path_factory, merge_template):
    """`chalice package --stage S --merge-template <generated>` output dir (sam.json,
    deployment.zip), made once per stage. The generated merge template equals the committed one
    when test_templates_are_up_to_date passes; using it here keeps other failures readable."""
    cache: dict[str, Path] = {}

    def get(stage: str) -> Path:
        if stage not in cache:
            out = tmp_path_factory.mktemp(f"package-{stage}")
            merge = out.parent / f"merge-template-{stage}.json"
            merge.write_text(infra.render(merge_template(stage)))
            chalice_package(stage, out, merge)
            cache[stage] = out
        return cache[stage]
    return get


@pytest.fixture(scope="session")
def sam(packaged):
    def get(stage: str) -> dict:
        return json.loads((packaged(stage) / "sam.json").read_text())
    return get
