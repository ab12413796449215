"""Connector configuration checks and secret masking for the two connectors the pipeline uses.

Airbyte validates a configuration against the connector's spec (JSON schema) and answers 422
`unprocessable-entity` with the validator's messages; it stores secrets aside and returns them
masked as "**********", and a PATCH that sends the mask back keeps the stored secret. The rules
here follow airbyte-source-hubspot 5.7.0's spec.yaml and destination-s3's spec (required fields,
consts, enums, the start_date pattern); they are hand-written rather than a JSON-schema engine
because only these two connectors exist in the emulator.
"""
from __future__ import annotations

import copy
import re

from . import problems

MASK = "**********"
_START_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
_S3_FORMATS = {"Avro", "CSV", "JSONL", "Parquet"}
_PARQUET_CODECS = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD"}

# The HubSpot connector's `advanced_auth` (spec.yaml of airbyte-source-hubspot 5.7.0): when
# credentials.credentials_title is "OAuth Credentials", the values at these paths come from the
# OAuth parameters Airbyte holds for the workspace (or its own, instance-wide app on Cloud).
# airbyte-platform's OAuthConfigSupplier masks them on read and injects them on check,
# discover and sync.
OAUTH_PREDICATE = {"hubspot": (("credentials", "credentials_title"), "OAuth Credentials")}
OAUTH_SERVER_INPUT = {"hubspot": ("client_id", "client_secret")}
OAUTH_SERVER_OUTPUT = {"hubspot": {"client_id": ("credentials", "client_id"),
                                   "client_secret": ("credentials", "client_secret")}}

SECRET_PATHS = {
    "hubspot": [("credentials", "client_secret"), ("credentials", "refresh_token"),
                ("credentials", "access_token")],
    "s3": [("access_key_id",), ("secret_access_key",)],
}


def _is_str(v) -> bool:
    return isinstance(v, str)


def _hubspot_errors(cfg: dict) -> list[str]:
    errs = []
    creds = cfg.get("credentials")
    if creds is None:
        errs.append("$: required property 'credentials' not found")
    elif not isinstance(creds, dict):
        errs.append("$.credentials: object expected")
    else:
        title = creds.get("credentials_title")
        required = {"OAuth Credentials": ("client_id", "client_secret", "refresh_token"),
                    "Private App Credentials": ("access_token",)}.get(title)
        if required is None:
            errs.append("$.credentials: must be valid to one and only one schema "
                        "(credentials_title must be 'OAuth Credentials' or 'Private App Credentials')")
        else:
            for k in required:
                if k not in creds:
                    errs.append(f"$.credentials: required property '{k}' not found")
                elif not _is_str(creds[k]):
                    errs.append(f"$.credentials.{k}: {type(creds[k]).__name__} found, string expected")
    sd = cfg.get("start_date")
    if sd is not None and not (_is_str(sd) and _START_DATE.match(sd)):
        errs.append(f"$.start_date: does not match the regex pattern {_START_DATE.pattern}")
    nw = cfg.get("num_worker")
    if nw is not None and not (isinstance(nw, int) and not isinstance(nw, bool) and 1 <= nw <= 40):
        errs.append("$.num_worker: must be an integer between 1 and 40")
    ees = cfg.get("enable_experimental_streams")
    if ees is not None and not isinstance(ees, bool):
        errs.append("$.enable_experimental_streams: boolean expected")
    return errs


def _s3_errors(cfg: dict) -> list[str]:
    errs = []
    for k in ("s3_bucket_name", "s3_bucket_path", "format"):
        if k not in cfg:
            errs.append(f"$: required property '{k}' not found")
    for k in ("s3_bucket_name", "s3_bucket_path", "s3_bucket_region", "s3_path_format",
              "file_name_pattern", "s3_endpoint", "access_key_id", "secret_access_key", "role_arn"):
        if k in cfg and not _is_str(cfg[k]):
            errs.append(f"$.{k}: string expected")
    fmt = cfg.get("format")
    if fmt is not None:
        if not isinstance(fmt, dict) or fmt.get("format_type") not in _S3_FORMATS:
            errs.append("$.format: must be valid to one and only one schema "
                        f"(format_type must be one of {sorted(_S3_FORMATS)})")
        elif fmt["format_type"] == "Parquet":
            codec = fmt.get("compression_codec", "UNCOMPRESSED")
            if codec not in _PARQUET_CODECS:
                errs.append(f"$.format.compression_codec: does not have a value in the enumeration "
                            f"{sorted(_PARQUET_CODECS)}")
    return errs


_CHECKS = {"hubspot": _hubspot_errors, "s3": _s3_errors}


def validate(kind: str, cfg) -> None:
    if not isinstance(cfg, dict):
        raise problems.bad_request("configuration must be a JSON object")
    errs = _CHECKS[kind](cfg)
    if errs:
        raise problems.unprocessable(
            "The provided configuration does not fulfill the specification. Errors: json schema "
            "validation failed when comparing the data to the json schema. \nErrors: "
            + ", ".join(errs))


def oauth_applies(kind: str, cfg: dict) -> bool:
    """The connector's advanced_auth predicate holds for this configuration."""
    if kind not in OAUTH_PREDICATE:
        return False
    path, value = OAUTH_PREDICATE[kind]
    node = cfg
    for k in path:
        if not isinstance(node, dict) or k not in node:
            return False
        node = node[k]
    return node == value


def flatten_oauth(cfg: dict) -> dict:
    """MoreOAuthParameters.flattenOAuthConfig: nested objects' keys lifted to one level."""
    flat: dict = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            for k2, v2 in flatten_oauth(v).items():
                if k2 in flat:
                    raise problems.bad_request(f"OAuth Config's key '{k2}' already exists")
                flat[k2] = v2
        elif k in flat:
            raise problems.bad_request(f"OAuth Config's key '{k}' already exists")
        else:
            flat[k] = v
    return flat


def inject_oauth(kind: str, cfg: dict, params: dict) -> dict:
    """The configuration a connector receives: the OAuth parameters' values replace the
    source's own at the paths of complete_oauth_server_output_specification."""
    out = copy.deepcopy(cfg)
    if not oauth_applies(kind, cfg):
        return out
    flat = flatten_oauth(params)
    for key, path in OAUTH_SERVER_OUTPUT[kind].items():
        node = out
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = flat.get(key)
    return out


def mask(kind: str, cfg: dict) -> dict:
    out = copy.deepcopy(cfg)
    paths = list(SECRET_PATHS[kind])
    if oauth_applies(kind, cfg):
        # An OAuth parameter always exists for HubSpot on Cloud (Airbyte's own app), so the
        # injected paths are masked on every read, client_id included.
        paths += [p for p in OAUTH_SERVER_OUTPUT[kind].values() if p not in paths]
    for path in paths:
        node = out
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node:
            node[path[-1]] = MASK
    return out


def merge_except_secrets(old: dict, new: dict) -> dict:
    """Airbyte's PATCH semantics: objects merge key by key; a masked value keeps the stored one."""
    out = copy.deepcopy(old)
    for k, v in new.items():
        if v == MASK and k in old:
            continue
        if isinstance(v, dict) and isinstance(old.get(k), dict):
            out[k] = merge_except_secrets(old[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def unmask_put(old: dict, new: dict) -> dict:
    """A PUT replaces the configuration, but masked values still mean "keep the stored secret"."""
    out = copy.deepcopy(new)
    for k, v in new.items():
        if v == MASK and k in old:
            out[k] = copy.deepcopy(old[k])
        elif isinstance(v, dict) and isinstance(old.get(k), dict):
            out[k] = unmask_put(old[k], v)
    return out
