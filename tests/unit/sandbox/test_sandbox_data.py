"""The sandbox's generated CRM data, without serving it (over HTTP:
tests/integration/sandbox/test_sandbox_crm.py)."""
from local_stack.hubspot_sandbox import SandboxServer


def test_data_is_deterministic():
    def snapshot():
        srv = SandboxServer(seed=9, accounts=1, records_per_object=5)
        store = next(iter(srv.state.accounts.values())).store
        return [store.tables["contacts"].record(i) for i in range(5)]
    assert snapshot() == snapshot()
