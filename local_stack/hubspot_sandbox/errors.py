"""HubSpot-shaped error bodies.

HubSpot answers errors as JSON with `status`, `message`, `correlationId` and (newer APIs)
`category`; the OAuth v1 token endpoint uses `status` codes such as BAD_AUTH_CODE, and the
date-versioned OAuth endpoints keep `status` and add the OAuth2 `error` field.
"""
import json
import uuid

from flask import Response


def error_body(status: str, message: str, category: str = "VALIDATION_ERROR", **extra) -> dict:
    body = {"status": status, "message": message, "correlationId": str(uuid.uuid4()),
            "category": category}
    body.update(extra)
    return body


def json_response(body, code: int = 200, headers: dict | None = None) -> Response:
    # json.dumps + a bare Response is much cheaper than flask.jsonify on the hot path.
    return Response(json.dumps(body, separators=(",", ":")), status=code,
                    mimetype="application/json", headers=headers)


def error(code: int, status: str, message: str, category: str = "VALIDATION_ERROR",
          headers: dict | None = None, **extra) -> Response:
    return json_response(error_body(status, message, category, **extra), code, headers)
