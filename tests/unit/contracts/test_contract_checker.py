"""The contract checker itself (local_stack/contract_check.py) on documents and answers built in
the test: no stand-in is started (the stand-ins' own checks:
tests/integration/contracts/test_contracts.py)."""
from __future__ import annotations

import json

import yaml

from local_stack import contract_check as cc


def test_operation_lookup_prefers_literal_paths_and_declares_unknowns():
    route, params = cc.find_operation("hubspot", "GET", "/crm/v3/objects/contacts/101")
    assert (route.template, route.document.name) == ("/crm/v3/objects/contacts/{contactId}",
                                                      "contacts-v3.json")
    assert params == {"contactId": "101"}
    route, params = cc.find_operation("hubspot", "GET", "/crm/v3/objects/p123_cars")
    assert route.template == "/crm/v3/objects/{objectType}" and params == {"objectType": "p123_cars"}
    found = cc.check("hubspot", "GET", "/crm/v3/made-up", [], [], b"", "", 200, [], b"{}",
                     "application/json")
    assert [v.kind for v in found] == ["undeclared"]


def test_validators_are_built_once_per_document():
    doc = cc.find_operation("hubspot", "GET", "/crm/v3/owners")[0].document
    assert cc._validators(doc) is cc._validators(doc)


def test_a_broken_owner_answer_is_named_by_operation_and_schema_path():
    body = json.dumps({"results": [{"id": "1", "email": "a@example.com", "type": "ROBOT",
                                    "archived": False, "createdAt": "2024-01-01T00:00:00Z",
                                    "updatedAt": "2024-01-01T00:00:00Z"}]}).encode()
    found = cc.check("hubspot", "GET", "/crm/v3/owners", [], [("Authorization", "Bearer t")], b"",
                     "", 200, [], body,
                     "application/json")
    assert found, "an owner type outside the document's enum must be a violation"
    v = found[0]
    assert v.operation == "GET /crm/v3/owners" and v.document == "owners-v3.json"
    assert "$.results[0].type" in v.where and "enum" in v.where


def test_airbyte_errors_must_be_the_problems_airbyte_defines():
    ok = json.dumps({"status": 404, "type": "https://reference.airbyte.com/reference/errors"
                     "#resource-not-found", "title": "resource-not-found",
                     "detail": "The requested resource could not be found.",
                     "data": {"resourceId": "x"}}).encode()
    assert cc.check("airbyte", "GET", "/sources/x", [], [], b"", "", 404, [], ok,
                    "application/json") == []
    invented = json.dumps({"status": 404, "type": "about:blank", "title": "nope"}).encode()
    found = cc.check("airbyte", "GET", "/sources/x", [], [], b"", "", 404, [], invented,
                     "application/json")
    assert [v.where for v in found] == ["404 problem $.title"]


def test_allowlist_entries_carry_reason_and_evidence():
    doc = yaml.safe_load(cc.ALLOWLIST.read_text())
    assert set(doc) <= {"aliases", "problem_documents", "exceptions"}
    for key in doc:
        for entry in doc[key]:
            assert entry["reason"].strip() and entry["evidence"].strip(), entry
            assert entry["service"] in ("hubspot", "airbyte"), entry


def test_a_call_served_without_the_operations_credentials_is_a_violation():
    """The documents' security requirements judge every call: HubSpot's CRM operations take an
    OAuth bearer token (oauth2 scheme); one served without it would be a 401 at HubSpot."""
    body = json.dumps({"results": []}).encode()
    bare = cc.check("hubspot", "GET", "/crm/v3/owners", [], [], b"", "", 200, [], body,
                    "application/json")
    assert [(v.kind, v.where) for v in bare] == [("request", "security")]
    assert "oauth2" in bare[0].message
    signed = cc.check("hubspot", "GET", "/crm/v3/owners", [], [("Authorization", "Bearer t")],
                      b"", "", 200, [], body, "application/json")
    assert signed == []
    # an operation that declares no requirement (the token exchange) needs none
    assert cc.security("hubspot", "POST", "/oauth/v1/token") == []


def test_scopes_follow_the_operations_security_requirements():
    required = cc.security("hubspot", "GET", "/crm/v3/objects/tickets")
    assert required == [{"oauth2": ["tickets"]}]
    assert cc.missing_scopes(required, {"tickets", "oauth"}) == []
    assert cc.missing_scopes(required, {"crm.objects.contacts.read"}) == ["tickets"]
    # alternatives: any one suffices (the generic objects API takes many scopes)
    generic = cc.security("hubspot", "GET", "/crm/v3/objects/p123_cars")
    assert len(generic) > 1 and cc.missing_scopes(generic, {"crm.objects.custom.read"}) == []
    assert cc.missing_scopes([], set()) == []
