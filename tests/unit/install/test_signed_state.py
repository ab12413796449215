"""The signed OAuth state on its own (the install flow's use of it:
tests/integration/install/test_state_bound.py)."""
from __future__ import annotations

import pytest

from hubspot_app.install_state import (
    StateRefused,
    code_challenge,
    code_verifier,
    new_state,
    read_state,
    signing_key,
)


# -- the signed state itself ------------------------------------------------------------------
def test_signed_state_unit():
    key, now = signing_key("client-secret"), 1_800_000_000.0
    item, cookie = new_state(key, 600, now)
    assert read_state(cookie, item.state, key, now + 599) == item
    for value, url_state, at, reason in [
        (cookie, item.state, now + 600, "expired_state"),
        (cookie, "another-state", now, "wrong_browser"),
        (cookie.replace("v1.", "v2.", 1), item.state, now, "bad_cookie"),
        (cookie.replace(".", "..", 1), item.state, now, "bad_cookie"),
    ]:
        with pytest.raises(StateRefused) as refused:
            read_state(value, url_state, key, at)
        assert refused.value.reason == reason
    # Another app's secret does not verify it.
    with pytest.raises(StateRefused):
        read_state(cookie, item.state, signing_key("other-secret"), now)
    # The PKCE verifier is RFC 7636's shape, differs per state and is not in the cookie.
    verifier = code_verifier(key, item.state)
    assert 43 <= len(verifier) <= 128 and set(verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert verifier != code_verifier(key, new_state(key, 600, now)[0].state)
    assert verifier not in cookie and len(code_challenge(verifier)) == 43
