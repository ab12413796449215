"""The contract layer itself: a broken stand-in answer fails, the allow-list is well formed, the
refresh script reports what changed (local_stack/contract_check.py, tests/contracts/refresh.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from local_stack import contract_check as cc
from tests.contracts import refresh

ROOT = Path(__file__).resolve().parents[3]


SCOPES = "crm.objects.contacts.read crm.objects.deals.read crm.objects.owners.read oauth"


def _sandbox():
    from local_stack.hubspot_sandbox import RegisteredApp, SandboxServer
    from tests.harness.sandbox_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

    return SandboxServer(accounts=1, records_per_object=5,
                         apps=[RegisteredApp(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])])


def _token(srv) -> str:
    from tests.harness.sandbox_oauth import accounts, install

    return install(srv.url, accounts(srv.url)[0]["hub_id"], scope=SCOPES)["access_token"]


def test_a_deliberately_broken_stand_in_answer_fails_the_test_that_caused_it(tmp_path):
    """End to end through tests/conftest.py: a sandbox whose owners answer is corrupted makes
    the (otherwise passing) test fail, naming the operation and the schema path."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import *  # noqa: F403 - the suite's own hooks\n")
    (tmp_path / "test_broken.py").write_text(textwrap.dedent("""
        import json
        import requests
        from tests.integration.contracts.test_contracts import _sandbox, _token

        def test_owners_with_a_broken_answer():
            srv = _sandbox().start()
            def corrupt(resp):
                if resp.is_json and "/owners" in (resp.headers.get("X-Path") or ""):
                    data = resp.get_json()
                    data["results"][0]["type"] = 42
                    resp.set_data(json.dumps(data))
                return resp
            def tag(resp):
                from flask import request
                resp.headers["X-Path"] = request.path
                return resp
            srv.app.after_request_funcs[None] += [corrupt, tag]  # tag runs first
            try:
                tok = _token(srv)
                r = requests.get(srv.url + "/crm/v3/owners", timeout=10,
                                 headers={"Authorization": "Bearer " + tok})
                assert r.status_code == 200  # the test itself sees nothing wrong
            finally:
                srv.stop()
    """))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(cc.LOG_ENV, None)
    env.pop(cc.OWNER_ENV, None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), str(tmp_path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "1 failed" in out and "vendor contract violated by this test" in out, out
    assert "GET /crm/v3/owners [owners-v3.json]" in out and "$.results[0].type" in out, out


def _fake_mirror(root: Path, repo: str, files: dict[str, str]) -> None:
    work = root / repo.replace("/", "+") / "repo"
    work.mkdir(parents=True)
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "specs"], check=True)


def test_refresh_reports_added_operations_and_keeps_what_it_cannot_reach(tmp_path, capsys):
    row = next(r for r in refresh.read_sources() if r["file"] == "hubspot/oauth-v1.json")
    current = json.loads((refresh.HERE / row["file"]).read_text())
    current["paths"]["/oauth/v1/new-thing"] = {"get": {"responses": {}}}
    _fake_mirror(tmp_path, row["repository"], {row["path"]: json.dumps(current)})
    assert refresh.main(["--mirrors", str(tmp_path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "changed  hubspot/oauth-v1.json" in out and "+ GET /oauth/v1/new-thing" in out
    assert "kept     airbyte/api.yaml: no mirror" in out
    assert "nothing written" in out


def test_sandbox_serves_the_sdk_paths_it_lacked():
    """Property by name, property groups, a pipeline by id and its stages (hubspot-api-client),
    each judged by the vendored documents as the suite runs."""
    with _sandbox() as srv:
        tok = _token(srv)
        h = {"Authorization": f"Bearer {tok}"}

        def get(path):
            return requests.get(srv.url + path, headers=h, timeout=10)

        assert get("/crm/v3/properties/contacts/email").json()["name"] == "email"
        assert get("/crm/v3/properties/contacts/no_such_property").status_code == 404
        groups = get("/crm/v3/properties/contacts/groups").json()["results"]
        assert groups and get(f"/crm/v3/properties/contacts/groups/{groups[0]['name']}").ok
        pipelines = get("/crm/v3/pipelines/deals").json()["results"]
        one = get(f"/crm/v3/pipelines/deals/{pipelines[0]['id']}").json()
        assert one["id"] == pipelines[0]["id"]
        stages = get(f"/crm/v3/pipelines/deals/{one['id']}/stages").json()["results"]
        assert [s["id"] for s in stages] == [s["id"] for s in one["stages"]]
        assert get(f"/crm/v3/pipelines/deals/{one['id']}/stages/{stages[0]['id']}").ok
        assert get("/crm/v3/pipelines/deals/no-such-pipeline").status_code == 404


def test_a_partial_batch_read_answers_the_documented_207():
    """Judged by the contract hook as it is served: BatchResponseSimplePublicObjectWithErrors,
    each error a StandardError (category, context, errors, links, message, status)."""
    with _sandbox() as srv:
        h = {"Authorization": f"Bearer {_token(srv)}"}
        first = requests.get(f"{srv.url}/crm/v3/objects/contacts?limit=1", headers=h,
                             timeout=10).json()["results"][0]["id"]
        r = requests.post(f"{srv.url}/crm/v3/objects/contacts/batch/read", headers=h, timeout=10,
                          json={"inputs": [{"id": first}, {"id": "999999999"}],
                                "properties": ["email"]})
        assert r.status_code == 207
        [err] = r.json()["errors"]
        assert err["context"] == {"ids": ["999999999"]} and err["category"] == "OBJECT_NOT_FOUND"
        assert cc.RECORDER.drain() == []


def test_the_sandbox_refuses_a_call_the_tokens_scopes_do_not_cover():
    """As HubSpot does, with its 403 MISSING_SCOPES shape: the scopes come from the vendored
    document of the operation, not from a list of the sandbox's own."""
    with _sandbox() as srv:
        h = {"Authorization": f"Bearer {_token(srv)}"}  # contacts, deals, owners: no tickets
        assert requests.get(f"{srv.url}/crm/v3/objects/deals?limit=1", headers=h, timeout=10).ok
        r = requests.get(f"{srv.url}/crm/v3/objects/tickets?limit=1", headers=h, timeout=10)
        assert r.status_code == 403 and r.json()["category"] == "MISSING_SCOPES"
        assert r.json()["errors"][0]["context"]["requiredGranularScopes"] == ["tickets"]
        assert cc.RECORDER.drain() == []


MIRROR = Path("/work/.mirror/HubSpot+HubSpot-public-api-spec-collection")


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no local mirror of HubSpot's spec collection "
                    "(fetch github:HubSpot/HubSpot-public-api-spec-collection)")
def test_vendored_documents_match_the_mirrors(capsys):
    """The vendored HubSpot documents are the mirror's current ones (the refresh reads the
    mirror's git history: a process, hence integration, not unit)."""
    assert refresh.main(["--check"]) == 0, capsys.readouterr().out
