"""The sandbox's accounts from its seed, without serving them (its OAuth over HTTP:
tests/integration/sandbox/test_sandbox_oauth.py)."""


def test_accounts_are_deterministic_from_seed():
    from local_stack.hubspot_sandbox import SandboxServer
    a = SandboxServer(seed=3, accounts=4).state.accounts
    b = SandboxServer(seed=3, accounts=4).state.accounts
    c = SandboxServer(seed=4, accounts=4).state.accounts
    assert list(a) == list(b) and list(a) != list(c) and len(set(a)) == 4
