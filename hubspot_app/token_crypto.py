"""Envelope encryption of refresh tokens with KMS, bound to the account's hub_id.

KMS makes a fresh data key per token; the token is sealed with AES-256-GCM under that key,
and only the KMS-encrypted data key is stored beside it. hub_id is both the KMS encryption
context and the GCM associated data, so a ciphertext copied onto another account's item does
not decrypt. Stored form: "v1:<b64 encrypted data key>:<b64 nonce>:<b64 ciphertext>".
"""
from __future__ import annotations

import base64
import os

import boto3
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class TokenDecryptError(RuntimeError):
    """The stored token cannot be opened for this hub_id (moved, tampered or key revoked)."""


def _context(hub_id: int | str) -> dict[str, str]:
    return {"hub_id": str(hub_id)}


def encrypt_token(token: str, hub_id: int | str, key_id: str, kms=None) -> str:
    kms = kms or boto3.client("kms")
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=_context(hub_id))
    nonce = os.urandom(12)
    sealed = AESGCM(data_key["Plaintext"]).encrypt(nonce, token.encode(), str(hub_id).encode())
    parts = [data_key["CiphertextBlob"], nonce, sealed]
    return ":".join([_VERSION] + [base64.b64encode(p).decode() for p in parts])


def decrypt_token(stored: str, hub_id: int | str, kms=None) -> str:
    kms = kms or boto3.client("kms")
    try:
        version, *encoded = stored.split(":")
        if version != _VERSION or len(encoded) != 3:
            raise ValueError(f"unknown token format {version!r}")
        wrapped_key, nonce, sealed = (base64.b64decode(p) for p in encoded)
        data_key = kms.decrypt(CiphertextBlob=wrapped_key, EncryptionContext=_context(hub_id))["Plaintext"]
        return AESGCM(data_key).decrypt(nonce, sealed, str(hub_id).encode()).decode()
    except Exception as exc:  # KMS InvalidCiphertext, GCM InvalidTag, bad base64: all mean "not yours"
        raise TokenDecryptError(f"refresh token of hub {hub_id} cannot be decrypted") from exc
