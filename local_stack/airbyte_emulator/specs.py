"""Connector configuration checks and secret masking for the two connectors the pipeline uses.

Airbyte validates a configuration against the connector's spec (JSON schema) and answers 422
`unprocessable-entity` with the validator's messages; it stores secrets aside and returns them
masked as "**********", and a PATCH that sends the mask back keeps the stored secret. The schemas
are the connectors' own specs, vendored in tests/contracts/airbyte/.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import jsonschema
import yaml

from . import problems

MASK = "**********"

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


# The connectors' own specs, vendored in tests/contracts/ (SOURCES: airbyte-source-hubspot's
# spec.yaml, destination-s3's spec): Airbyte validates a configuration against the
# connectionSpecification (JSON schema draft 7) and answers 422 with the validator's messages.
_SPEC_FILES = {"hubspot": "source-hubspot-spec.yaml", "s3": "destination-s3-spec.json"}
_SPEC_DIR = Path(__file__).resolve().parents[2] / "tests" / "contracts" / "airbyte"


@functools.cache
def _validator(kind: str) -> jsonschema.Draft7Validator:
    text = (_SPEC_DIR / _SPEC_FILES[kind]).read_text()
    spec = json.loads(text) if _SPEC_FILES[kind].endswith(".json") else yaml.safe_load(text)
    return jsonschema.Draft7Validator(spec["connectionSpecification"])


def _message(err: jsonschema.ValidationError) -> str:
    """One error in the style of Airbyte's validator (networknt): "$.a.b: message"."""
    while err.context:
        # oneOf: judge by the branch the value chose (its const/enum discriminator holds, e.g.
        # format_type "CSV" or the credentials_title); none or several: the oneOf itself.
        branches: dict = {}
        for sub in err.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        chosen = [subs for subs in branches.values()
                  if not any(x.validator in ("enum", "const") for x in subs)]
        if len(chosen) != 1:
            break
        err = jsonschema.exceptions.best_match(chosen[0])
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
    if err.context:
        return f"{path}: must be valid to one and only one schema, but 0 are valid"
    if err.validator == "required":
        name = err.message.split("'")[1]
        return f"{path}: required property '{name}' not found"
    return f"{path}: {err.message}"


def config_errors(kind: str, cfg: dict) -> list[str]:
    return [_message(e) for e in sorted(_validator(kind).iter_errors(cfg), key=str)]


def validate(kind: str, cfg) -> None:
    if not isinstance(cfg, dict):
        raise problems.bad_request("configuration must be a JSON object")
    errs = config_errors(kind, cfg)
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
