"""Airbyte's problem responses (RFC 9457 style, from airbyte-api/problems-api).

The public API answers errors with {status, type, title, detail, data}; the type/title/detail
constants below are the defaults Airbyte's problems spec declares, so clients that branch on
`title` or `type` behave here as against Airbyte.
"""
from __future__ import annotations

_REF = "https://reference.airbyte.com/reference/errors"


class ApiProblem(Exception):
    def __init__(self, status: int, type_: str, title: str, detail: str, data: dict | None = None):
        super().__init__(f"{status} {title}: {data or detail}")
        self.status, self.type, self.title, self.detail, self.data = status, type_, title, detail, data

    def body(self) -> dict:
        out = {"status": self.status, "type": self.type, "title": self.title, "detail": self.detail}
        if self.data is not None:
            out["data"] = self.data
        return out


def bad_request(message: str) -> ApiProblem:
    return ApiProblem(400, f"{_REF}#bad-request", "bad-request",
                      "The request could not be understood by the server due to malformed syntax.",
                      {"message": message})


def unknown_value(value: str) -> ApiProblem:
    return ApiProblem(400, _REF, "value-not-found", "The submitted value could not be found.",
                      {"value": value})


def invalid_api_key() -> ApiProblem:
    return ApiProblem(401, f"{_REF}#invalid-api-key", "invalid-api-key",
                      "The API key in the Authorization header is invalid.")


def forbidden(message: str) -> ApiProblem:
    return ApiProblem(403, f"{_REF}#forbidden", "forbidden", "The request is forbidden.",
                      {"message": message})


def not_found(resource_type: str | None, resource_id: str) -> ApiProblem:
    data = {"resourceId": resource_id}
    if resource_type:
        data["resourceType"] = resource_type
    return ApiProblem(404, f"{_REF}#resource-not-found", "resource-not-found",
                      "The requested resource could not be found.", data)


def try_again_later(message: str) -> ApiProblem:
    # Airbyte maps ValueConflictKnownException (e.g. "A sync is already running") to this.
    return ApiProblem(409, f"{_REF}#try-again-later", "try-again-later", "Please try again later.",
                      {"message": message})


def state_conflict(message: str) -> ApiProblem:
    return ApiProblem(409, f"{_REF}#409-state-conflict", "state-conflict", "State conflict",
                      {"message": message})


def unprocessable(message: str | None = None) -> ApiProblem:
    return ApiProblem(422, f"{_REF}#unprocessable-entity", "unprocessable-entity",
                      "The body of the request was not understood",
                      {"message": message} if message else None)


def unexpected(message: str | None = None) -> ApiProblem:
    return ApiProblem(500, _REF, "unexpected-problem",
                      "An unexpected problem has occurred. If this is an error that needs to be "
                      "addressed, please submit a pull request or github issue.",
                      {"message": message} if message else None)


def service_unavailable(message: str | None = None) -> ApiProblem:
    return ApiProblem(503, _REF, "service-unavailable",
                      "The server is currently unable to handle the request.",
                      {"message": message} if message else None)
