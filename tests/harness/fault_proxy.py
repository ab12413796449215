"""A tiny HTTP proxy in front of the HubSpot sandbox that injects faults on any path.

The sandbox injects faults on its CRM API only; HubSpot's token endpoint can also time out,
rate-limit (429) or fail (5xx), and tests of the token-health check need exactly that:

    proxy = FaultProxy(sandbox_url).start()
    proxy.add("/oauth/", status=503, count=2)            # the next two token calls answer 503
    proxy.add("/oauth/2026-03/token", status=400, count=1,
              body={"status": "BAD_REFRESH_TOKEN", "error": "invalid_grant"})
    proxy.add("/oauth/", delay=3.0, count=1)             # slower than the client's timeout
"""
from __future__ import annotations

import json
import threading
import time

import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.rules: list[dict] = []
        self.lock = threading.Lock()
        self.seen: list[str] = []
        self._server = None
        self.http = requests.Session()

    def add(self, prefix: str, status: int = 0, count: int | None = 1, body: dict | None = None,
            delay: float = 0.0, headers: dict | None = None) -> None:
        with self.lock:
            self.rules.append({"prefix": prefix, "status": status, "remaining": count,
                               "body": body, "delay": delay, "headers": headers or {}})

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.seen.clear()

    def _rule(self, path: str):
        with self.lock:
            self.seen.append(path)
            for rule in self.rules:
                if not path.startswith(rule["prefix"]):
                    continue
                if rule["remaining"] is not None:
                    if rule["remaining"] <= 0:
                        continue
                    rule["remaining"] -= 1
                return dict(rule)
        return None

    def __call__(self, environ, start_response):
        request = Request(environ)
        rule = self._rule(request.path)
        if rule and rule["delay"]:
            time.sleep(rule["delay"])
        if rule and rule["status"]:
            body = json.dumps(rule["body"] or {"status": "error", "message": "injected"})
            return Response(body, status=rule["status"], mimetype="application/json",
                            headers=rule["headers"])(environ, start_response)
        upstream = self.http.request(request.method, self.upstream + request.full_path.rstrip("?"),
                                     data=request.get_data(), timeout=30,
                                     headers={k: v for k, v in request.headers if k.lower() != "host"},
                                     allow_redirects=False)
        excluded = {"content-encoding", "transfer-encoding", "connection", "content-length"}
        return Response(upstream.content, status=upstream.status_code,
                        headers=[(k, v) for k, v in upstream.headers.items()
                                 if k.lower() not in excluded])(environ, start_response)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FaultProxy:
        self._server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=_Quiet)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
