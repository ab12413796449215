"""The Flask app: API blueprint, the gate every API request passes (count, rate limit, faults,
auth, in that order, like a gateway in front of Airbyte), and the /_emulator admin endpoints."""
from __future__ import annotations

import time

from flask import Blueprint, Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import contract_check
from ..http import drop_connection
from . import api_actors, api_connections, api_jobs, problems

# Airbyte Cloud serves the API at /v1, self-managed at /api/public/v1.
API_PREFIXES = ("/v1", "/api/public/v1")
RATE_LIMITED = {"message": "You are being rate limited."}  # Airbyte's 429 body (no Retry-After)

def _api_path(path: str) -> str | None:
    """The /v1/... form of an API path, or None for admin and unknown paths."""
    for prefix in API_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return "/v1" + path[len(prefix):]
    return None

def _document_path(path: str) -> str:
    """The path as api.yaml spells it (under its server's /v1)."""
    api = _api_path(path)
    return (api[len("/v1"):] or "/") if api is not None else path


def create_app(emu) -> Flask:
    app = Flask("airbyte_emulator")
    app.json.sort_keys = False
    bp = Blueprint("api", __name__)
    api_actors.register(bp, emu)
    api_connections.register(bp, emu)
    api_jobs.register(bp, emu)

    @bp.get("/health")
    def health():
        return "", 200

    @bp.post("/applications/token")
    def token():
        body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        return jsonify(emu.auth.issue(body or {}))

    app.register_blueprint(bp, url_prefix="/v1")
    app.register_blueprint(bp, url_prefix="/api/public/v1", name="api_public")
    # The SDK's client-credentials hook urljoins "/applications/token" onto the server URL,
    # which drops the "/v1": answer there too so SDK clients work unchanged.
    app.add_url_rule("/applications/token", "token_sdk", token, methods=["POST"])

    @app.before_request
    def gate():
        path = _api_path(request.path) or (request.path if request.path == "/applications/token"
                                           else None)
        if path is None:
            return None
        store = emu.store
        collection = "/".join(path.split("/")[:3])
        with store.lock:
            store.requests[f"{request.method} {collection}"] += 1
        if not emu.rate_limiter.allow():
            with store.lock:
                store.rejected["429_rate_limit"] += 1
            return jsonify(RATE_LIMITED), 429
        fault = emu.faults.take(request.method, path)
        if fault:
            g.contract_skip = "injected fault"  # broken on purpose: not judged by api.yaml
            with store.lock:
                store.rejected[fault["mode"]] += 1
            if fault["mode"] == "5xx":
                p = problems.unexpected("injected fault") if fault["status"] == 500 else \
                    problems.ApiProblem(fault["status"], problems._REF, "service-unavailable",
                                        "The server is currently unable to handle the request.")
                return jsonify(p.body()), fault["status"]
            if fault["mode"] == "429":
                return jsonify(RATE_LIMITED), 429
            if fault["mode"] == "slow":
                time.sleep(fault["delay_s"])
            if fault["mode"] == "lose_response_after_create":
                g.lose_response = True
            if fault["mode"] == "late_create":
                g.late_create = fault  # read by emu.note_create and by maybe_lose below
        if path not in ("/v1/applications/token", "/applications/token", "/v1/health"):
            emu.auth.check(request.headers.get("Authorization"))
        return None

    @app.after_request
    def maybe_lose(response):
        late = g.get("late_create")
        if late and response.status_code < 300:
            if late["answer"] == "5xx":  # the create happened; a gateway error comes back
                p = problems.ApiProblem(late["status"], problems._REF, "bad-gateway",
                                        "The upstream server did not answer in time.")
                response = jsonify(p.body())
                response.status_code = late["status"]
                return response
            if late["answer"] == "timeout":
                time.sleep(late["delay_s"])  # answered after the client's timeout fired
                return response
            drop_connection(request.environ)
            return response
        if g.get("lose_response") and response.status_code < 300:
            drop_connection(request.environ)  # the create happened; the client never hears of it
        return response

    @app.errorhandler(problems.ApiProblem)
    def on_problem(p: problems.ApiProblem):
        return jsonify(p.body()), p.status

    @app.errorhandler(HTTPException)
    def on_http(e: HTTPException):
        return jsonify({"message": e.description}), e.code

    _register_admin(app, emu)
    contract_check.install(app, "airbyte", _document_path)
    return app

def _register_admin(app: Flask, emu) -> None:
    @app.get("/_emulator/state")
    def state():
        return jsonify(emu.state())

    @app.get("/_emulator/faults")
    def list_faults():
        return jsonify({"faults": emu.faults.list()})

    @app.post("/_emulator/faults")
    def add_fault():
        return jsonify(emu.faults.add(request.get_json(silent=True) or {}))

    @app.delete("/_emulator/faults")
    def clear_faults():
        emu.faults.clear()
        return "", 204

    @app.post("/_emulator/late_creates/reveal")
    def reveal_late_creates():
        return jsonify({"revealed": emu.reveal_late_creates()})

    @app.post("/_emulator/rate_limit")
    def rate_limit():
        body = request.get_json(silent=True) or {}
        emu.rate_limiter.configure(body.get("per_s"), body.get("burst"))
        return jsonify({"per_s": emu.rate_limiter.per_s, "burst": emu.rate_limiter.burst})

    @app.get("/_emulator/jobs/<int:job_id>")
    def job_detail(job_id):
        return jsonify(emu.job_detail(job_id))

    @app.get("/_emulator/jobs/<int:job_id>/files")
    def job_files(job_id):
        return jsonify(emu.job_detail(job_id)["files"])

    @app.get("/_emulator/connections/<cid>/state")
    def connection_state(cid):
        with emu.store.lock:
            return jsonify({"generationId": emu.store.generation.get(cid, 0),
                            "state": list(emu.store.connection_state.get(cid, {}).values())})
