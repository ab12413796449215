"""The pairs, their scope rule, and the data catalog's copy of it."""
from hubspot_app import data_catalog
from hubspot_app.associations.pairs import OBJECT_SCOPES, PAIRS, split_by_scope


def test_the_contracts_23_pairs():
    assert len(PAIRS) == len(set(PAIRS)) == 23
    assert PAIRS[:3] == (("contacts", "companies"), ("deals", "contacts"), ("deals", "companies"))


def test_a_pair_needs_a_scope_for_both_types():
    allowed, skipped = split_by_scope(["crm.objects.contacts.read", "crm.objects.companies.read"])
    assert ("contacts", "companies") in allowed and ("calls", "contacts") in allowed
    assert ("deals", "contacts") in skipped and ("calls", "tickets") in skipped
    assert split_by_scope([]) == ([], list(PAIRS))


def test_the_data_catalog_names_the_readers_scopes():
    needed = {s for scopes in OBJECT_SCOPES.values() for s in scopes}
    assert data_catalog.OWN_TABLES["association_labels"] == needed
    rows = {r.scope: r for r in data_catalog.rows(["crm.objects.contacts.read", "oauth"], ["tickets"])}
    assert "association_labels" in rows["tickets"].tables
    assert "association_labels" in rows["crm.objects.contacts.read"].tables
    assert "association_labels" not in rows["oauth"].tables
