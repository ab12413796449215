"""API Gateway's stage path in front of the Chalice dev server.

A REST API's default URL is `https://<id>.execute-api.<region>.amazonaws.com/<stage>/...`; the
stage segment is not part of the routes (Chalice's routes are `/install`, `/oauth/callback`), so
API Gateway removes it before the function runs, and answers anything outside the stage itself
(403 `{"message":"Missing Authentication Token"}`, its answer for a path it has no resource for).
This front does the same on 127.0.0.1, so the install flow can be tested under a path prefix:
cookies, redirects and links the app makes must carry the prefix themselves.
"""
from __future__ import annotations

import http.client

from .http import BackgroundServer

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade", "content-length"}


class StageFront:
    def __init__(self, prefix: str, target_port: int, port: int = 0):
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(f"stage prefix must look like '/api', not {prefix!r}")
        self.prefix, self.target_port = prefix, target_port
        self._server = BackgroundServer(self._app, port=port, name="stage-front")

    @property
    def url(self) -> str:
        return f"{self._server.url}{self.prefix}"

    def stop(self) -> None:
        self._server.stop()

    def _app(self, environ, start_response):
        path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or (
            environ.get("PATH_INFO", "/") + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else ""))
        route, _, query = path.partition("?")
        if route != self.prefix and not route.startswith(self.prefix + "/"):
            start_response("403 Forbidden", [("Content-Type", "application/json")])
            return [b'{"message":"Missing Authentication Token"}']
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        conn = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=60)
        try:
            # The raw path and query string, unchanged: signatures cover them (webhooks).
            conn.request(environ["REQUEST_METHOD"],
                         (route[len(self.prefix):] or "/") + (f"?{query}" if query else ""),
                         body=body, headers=headers)
            answer = conn.getresponse()
            content = answer.read()
            # getheaders() keeps repeated headers (several Set-Cookie) as separate pairs.
            out = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
            start_response(f"{answer.status} {answer.reason}", out)
            return [content]
        finally:
            conn.close()
