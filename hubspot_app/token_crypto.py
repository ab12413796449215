"""Refresh tokens encrypted with KMS, bound to the account's hub_id.

A HubSpot refresh token is a few dozen characters (the issue budgets 300), far under the 4,096
bytes KMS `Encrypt` takes directly, so the token goes to KMS itself with the hub_id as the
encryption context: KMS authenticates the context as additional authenticated data, so a
ciphertext copied onto another account's item does not decrypt (InvalidCiphertextException),
and every Decrypt shows the hub_id in CloudTrail. The policies also require the context key
(`kms:EncryptionContextKeys` = hub_id, .chalice/policy-*.json).
  https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html
  https://docs.aws.amazon.com/kms/latest/developerguide/encrypt_context.html

Stored form: "v2:<b64 KMS ciphertext blob>".

The retired envelope form "v1:<b64 wrapped data key>:<b64 nonce>:<b64 AES-GCM ciphertext>"
(a KMS data key per token, AES-256-GCM with hub_id as associated data) is still read where the
`cryptography` package is installed (developer machines and operators' tools, not the Lambda
package), so `python -m hubspot_app.ops tokens migrate` can re-encrypt such items as v2. No
deployed stage ever stored v1 (README, "Known limits"); in Lambda a v1 value is refused naming
that command.
"""
from __future__ import annotations

import base64
from typing import Any

from hubspot_app.errors import Permanent

_VERSION = "v2"
_LEGACY = "v1"
MAX_TOKEN_BYTES = 4096           # KMS Encrypt's plaintext limit (API_Encrypt.html, Plaintext)
MIGRATE_COMMAND = "python -m hubspot_app.ops tokens migrate"


class TokenDecryptError(RuntimeError, Permanent):
    """The stored token cannot be opened for this hub_id (moved, tampered or key revoked)."""


class LegacyTokenFormat(TokenDecryptError):
    """A v1 (envelope) value where `cryptography` is not installed: migrate it first."""


def _context(hub_id: int | str) -> dict[str, str]:
    return {"hub_id": str(hub_id)}


def encrypt_token(token: str, hub_id: int | str, key_id: str, *, kms: Any) -> str:
    """`kms`: a KMS client (Services.kms; the caller's, so each function creates it once)."""
    plaintext = token.encode()
    if not plaintext or len(plaintext) > MAX_TOKEN_BYTES:
        raise ValueError(f"a refresh token must be 1 to {MAX_TOKEN_BYTES} bytes for KMS Encrypt, "
                         f"got {len(plaintext)}")
    blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext,
                       EncryptionContext=_context(hub_id))["CiphertextBlob"]
    return f"{_VERSION}:{base64.b64encode(blob).decode()}"


def token_format(stored: str) -> str:
    """"v2", "v1" (the retired envelope form) or "unknown"."""
    version = (stored or "").split(":", 1)[0]
    return version if version in (_VERSION, _LEGACY) else "unknown"


def decrypt_token(stored: str, hub_id: int | str, *, kms: Any) -> str:
    version = token_format(stored)
    if version == _LEGACY:
        return _decrypt_v1(stored, hub_id, kms)
    try:
        if version != _VERSION:
            raise ValueError(f"unknown token format {stored.split(':', 1)[0][:8]!r}")
        _, encoded = stored.split(":", 1)
        blob = base64.b64decode(encoded, validate=True)
        plaintext = kms.decrypt(CiphertextBlob=blob, EncryptionContext=_context(hub_id))["Plaintext"]
        return plaintext.decode()
    except Exception as exc:  # KMS InvalidCiphertext/AccessDenied, bad base64: all mean "not yours"
        raise TokenDecryptError(f"refresh token of hub {hub_id} cannot be decrypted") from exc


def _decrypt_v1(stored: str, hub_id: int | str, kms) -> str:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise LegacyTokenFormat(
            f"refresh token of hub {hub_id} is in the retired v1 envelope format, which this "
            f"package cannot read: run `{MIGRATE_COMMAND} --stage <stage>`") from None
    try:
        _, *encoded = stored.split(":")
        if len(encoded) != 3:
            raise ValueError("a v1 token has three parts")
        wrapped_key, nonce, sealed = (base64.b64decode(p, validate=True) for p in encoded)
        data_key = kms.decrypt(CiphertextBlob=wrapped_key, EncryptionContext=_context(hub_id))["Plaintext"]
        return AESGCM(data_key).decrypt(nonce, sealed, str(hub_id).encode()).decode()
    except Exception as exc:  # KMS InvalidCiphertext, GCM InvalidTag, bad base64
        raise TokenDecryptError(f"refresh token of hub {hub_id} cannot be decrypted") from exc
