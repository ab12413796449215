"""The one parser of HubSpot account ids (hub_id, portalId), used by every entry point.

HubSpot's OAuth 2026-03 introspection declares `hub_id` as `integer`, `format: int32`
(HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/Auth/Oauth/Rollouts/279897/2026-03/
oauth.json, PublicAccessTokenInfoResponse), and so does the journal's `installPortalId`: a hub_id
is a positive 32-bit integer. It arrives as a JSON integer or, from queues, URLs and the CLI, as
a plain string of ASCII digits. Nothing else is a hub_id: no booleans, floats, signs, spaces,
leading zeros, exponents or paths, since the value becomes a DynamoDB key and an S3 prefix.
"""
from __future__ import annotations

MAX_HUB_ID = 2 ** 31 - 1   # int32, per the OpenAPI documents above


class InvalidHubId(ValueError):
    """Not a hub_id. The message never echoes more than a short, safe prefix of the value."""


def parse_hub_id(value: object) -> int:
    """The hub_id `value` stands for, or InvalidHubId."""
    if isinstance(value, bool):
        raise InvalidHubId("hub_id must be an integer, not a boolean")
    if isinstance(value, int):
        hub_id = value
    elif isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > 10 or value.startswith("0"):
            raise InvalidHubId("hub_id must be a plain positive integer (digits only)")
        hub_id = int(value)
    else:
        raise InvalidHubId(f"hub_id must be an integer, not {type(value).__name__}")
    if not 0 < hub_id <= MAX_HUB_ID:
        raise InvalidHubId(f"hub_id must be between 1 and {MAX_HUB_ID}")
    return hub_id


def hub_id_or_none(value: object) -> int | None:
    """parse_hub_id for callers that skip what is not a hub_id."""
    try:
        return parse_hub_id(value)
    except InvalidHubId:
        return None


def hub_id_arg(text: str) -> int:
    """argparse `type=` for the operators' CLI: bad input exits 2 with the reason."""
    import argparse

    try:
        return parse_hub_id(text)
    except InvalidHubId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
