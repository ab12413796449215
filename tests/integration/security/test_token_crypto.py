"""Refresh-token encryption (hubspot_app/token_crypto.py): KMS Encrypt with the hub_id as
encryption context, the policies' context-key conditions, and the migration of the retired v1
envelope form (hubspot_app/ops/tokens.py). KMS is moto's, over HTTP."""
from __future__ import annotations

import base64
import os
import sys

import boto3
import pytest

from deploy import iam_check
from deploy.iam_check import Call, Need
from hubspot_app.token_crypto import (
    LegacyTokenFormat,
    TokenDecryptError,
    decrypt_token,
    encrypt_token,
    token_format,
)
from tests.harness import moto_server

ALIAS = "alias/hubspot-pipeline-local"
TOKEN = "na1-4f1c-8e2a-refresh-token-" + "x" * 20


@pytest.fixture(scope="module")
def aws():
    with moto_server({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}):
        kms = boto3.client("kms")
        key = kms.create_key(Description="t")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=ALIAS, TargetKeyId=key)
        yield kms


def _v1(kms, token: str, hub_id) -> str:
    """The retired envelope form, made exactly as the v1 code made it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    dk = kms.generate_data_key(KeyId=ALIAS, KeySpec="AES_256", EncryptionContext={"hub_id": str(hub_id)})
    nonce = os.urandom(12)
    sealed = AESGCM(dk["Plaintext"]).encrypt(nonce, token.encode(), str(hub_id).encode())
    return ":".join(["v1"] + [base64.b64encode(p).decode() for p in (dk["CiphertextBlob"], nonce, sealed)])


def test_kms_encrypt_round_trip_bound_to_the_hub(aws):
    calls = []
    aws.meta.events.register("provide-client-params.kms.*",
                             lambda params, model, **_: calls.append((model.name, params)))
    stored = encrypt_token(TOKEN, 101, ALIAS, kms=aws)
    assert token_format(stored) == "v2" and TOKEN not in stored
    assert decrypt_token(stored, 101, kms=aws) == TOKEN
    # One KMS Encrypt (no data key), the hub_id as the context, on both calls.
    assert [name for name, _ in calls] == ["Encrypt", "Decrypt"]
    assert all(p["EncryptionContext"] == {"hub_id": "101"} for _, p in calls)
    # Moved to another account's item, or altered, it does not open.
    with pytest.raises(TokenDecryptError):
        decrypt_token(stored, 102, kms=aws)
    blob = bytearray(base64.b64decode(stored[3:]))
    blob[-1] ^= 1
    with pytest.raises(TokenDecryptError):
        decrypt_token("v2:" + base64.b64encode(bytes(blob)).decode(), 101, kms=aws)
    for junk in ("", "v2:", "v2:not base64!", "v9:abc", TOKEN):
        with pytest.raises(TokenDecryptError):
            decrypt_token(junk, 101, kms=aws)


def test_a_token_kms_cannot_take_is_refused_before_the_call(aws):
    with pytest.raises(ValueError, match="4096"):
        encrypt_token("x" * 4097, 101, ALIAS, kms=aws)
    with pytest.raises(ValueError):
        encrypt_token("", 101, ALIAS, kms=aws)
    assert decrypt_token(encrypt_token("y" * 4096, 7, ALIAS, kms=aws), 7, kms=aws) == "y" * 4096


def test_v1_is_read_where_cryptography_is_installed_and_refused_clearly_where_not(aws, monkeypatch):
    old = _v1(aws, TOKEN, 55)
    assert token_format(old) == "v1"
    assert decrypt_token(old, 55, kms=aws) == TOKEN
    with pytest.raises(TokenDecryptError):
        decrypt_token(old, 56, kms=aws)            # the v1 binding holds too
    # As in the Lambda package: no `cryptography` to import.
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    with pytest.raises(LegacyTokenFormat, match="ops tokens migrate"):
        decrypt_token(old, 55, kms=aws)
    assert issubclass(LegacyTokenFormat, TokenDecryptError)


@pytest.fixture
def accounts(aws):
    from hubspot_app.models import Account, bind_tables
    bind_tables("lean-test-accounts", "lean-test-states", reconnect=True)
    if not Account.exists():
        Account.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    for a in Account.scan():
        a.delete()
    return Account


def _put(Account, hub_id: int, stored: str) -> None:
    Account(hub_id=hub_id, refresh_token_encrypted=stored, status="active").save()


def test_migrate_rewrites_v1_items_as_v2_and_is_safe_to_repeat(aws, accounts, monkeypatch):
    from hubspot_app.ops import tokens
    Account = accounts
    _put(Account, 1, _v1(aws, "token-one", 1))
    _put(Account, 2, _v1(aws, "token-two", 2))
    _put(Account, 3, encrypt_token("token-three", 3, ALIAS, kms=aws))
    _put(Account, 4, "v1:AAAA:BBBB:CCCC")              # damaged: reported, left as it is
    assert tokens.status() == {"v2": 1, "v1": 3, "unknown": 0}

    dry = tokens.migrate(ALIAS, kms=aws, dry_run=True)
    assert dry["migrated"] == 2 and tokens.status()["v1"] == 3      # nothing written
    report = tokens.migrate(ALIAS, kms=aws)
    assert (report["migrated"], report["already_v2"]) == (2, 1)
    assert [f["hub_id"] for f in report["failed"]] == [4]
    assert "token" not in repr(report["failed"]).replace("token of hub", "")
    assert tokens.status() == {"v2": 3, "v1": 1, "unknown": 0}
    # The Lambda side (no cryptography) reads the migrated items.
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    assert [decrypt_token(Account.get(h).refresh_token_encrypted, h, kms=aws) for h in (1, 2, 3)] == [
        "token-one", "token-two", "token-three"]
    monkeypatch.delitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead")
    again = tokens.migrate(ALIAS, kms=aws)
    assert (again["migrated"], again["already_v2"]) == (0, 3)


def test_migrate_leaves_a_token_replaced_meanwhile_alone(aws, accounts, monkeypatch):
    from hubspot_app import token_crypto
    from hubspot_app.ops import tokens
    Account = accounts
    _put(Account, 9, _v1(aws, "old-token", 9))
    fresh = encrypt_token("reinstalled-token", 9, ALIAS, kms=aws)
    real = token_crypto.encrypt_token

    def reinstall_then_encrypt(token, hub_id, key_id, kms=None):
        # A reinstall stores a new token between the migration's read and its write.
        Account.get(9).update(actions=[Account.refresh_token_encrypted.set(fresh)])
        return real(token, hub_id, key_id, kms=kms)

    monkeypatch.setattr(token_crypto, "encrypt_token", reinstall_then_encrypt)
    report = tokens.migrate(ALIAS, kms=aws)
    assert (report["migrated"], report["changed_meanwhile"]) == (0, 1)
    assert decrypt_token(Account.get(9).refresh_token_encrypted, 9, kms=aws) == "reinstalled-token"


# -- The policies: Encrypt/Decrypt only on the stage's key and only with hub_id as the context --
@pytest.fixture(scope="module")
def evaluator():
    ev = iam_check.Evaluator()
    yield ev
    ev.close()


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _kms_call(function, action, context_keys):
    ctx = [("kms:ResourceAliases", (ALIAS,))]
    if context_keys is not None:
        ctx.append(("kms:EncryptionContextKeys", context_keys))
    return Call(function, "kms", action.split(":")[1], [Need(action, KEY, tuple(ctx))],
                "us-east-1", "123456789012", where="test")


@pytest.mark.parametrize("function,action", [("api_handler", "kms:Encrypt"),
                                             ("provisioner", "kms:Decrypt"),
                                             ("lifecycle_worker", "kms:Decrypt")])
def test_policies_require_the_hub_id_context(evaluator, function, action):
    assert iam_check.check([_kms_call(function, action, ("hub_id",))], evaluator) == []
    for keys in (None, ("tenant",), ("hub_id", "tenant")):
        refused = iam_check.check([_kms_call(function, action, keys)], evaluator)
        assert len(refused) == 2 and all(action in p for p in refused), (keys, refused)


def test_no_function_may_make_data_keys_any_more(evaluator):
    refused = iam_check.check([_kms_call("api_handler", "kms:GenerateDataKey", ("hub_id",))], evaluator)
    assert len(refused) == 2
