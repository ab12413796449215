"""The vendors' published OpenAPI documents judge every call a stand-in serves.

`install(app, service)` hooks a stand-in's Flask app: each request and the answer the stand-in
gives are validated (openapi-core) against the documents vendored in tests/contracts/ (SOURCES
says where each came from). The operation is found by method and path among all of the
service's documents (literal segments beat templates); a call no document declares is itself a
violation. Violations are recorded in this process (and appended, as JSON lines, to the file
named by $CONTRACT_VIOLATIONS_LOG, so stand-ins in child processes report too); tests/conftest.py
fails the test during which they happened. Exceptions where a vendor's document is wrong or
silent live in tests/contracts/allowlist.yaml only, each with its reason and evidence.

A request that breaks the document counts when the stand-in accepted it (2xx/3xx): the product
sent something HubSpot or Airbyte would refuse, or the stand-in is laxer than the real service.
A refused invalid request is the stand-in doing its job (tests send those on purpose).

Cost: each document is parsed and its validators built once per process, when the first
stand-in of that service starts (warm), not during a request.
"""
from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

SPEC_DIR = Path(__file__).resolve().parent.parent / "tests" / "contracts"
ALLOWLIST = SPEC_DIR / "allowlist.yaml"
LOG_ENV = "CONTRACT_VIOLATIONS_LOG"
OWNER_ENV = "CONTRACT_VIOLATIONS_OWNER"  # pid of the test process that reads the log
# Routes that are ours, not the vendor's: test control endpoints of the stand-ins.
CONTROL_PREFIXES = ("/_sandbox/", "/_emulator/")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Violation:
    service: str
    operation: str  # "METHOD /template" as the vendor's document spells it (or as requested)
    kind: str  # undeclared | request | response
    status: int
    where: str  # e.g. "response 200 body $.results[0].type (schema .../enum)"
    message: str
    document: str = ""

    def __str__(self) -> str:
        doc = f" [{self.document}]" if self.document else ""
        return f"{self.service} {self.operation}{doc}: {self.kind} {self.where}: {self.message}"


# ---------------------------------------------------------------- documents and operations

def _documents(service: str) -> list[Path]:
    folder = SPEC_DIR / service
    return sorted(p for p in folder.iterdir()
                  if p.suffix in (".json", ".yaml") and _is_openapi(p))


def _is_openapi(path: Path) -> bool:
    head = path.read_text()[:400]
    return '"openapi"' in head or head.lstrip().startswith("openapi:")


@functools.cache
def load(path: Path) -> dict:
    text = path.read_text()
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml's when built


@dataclass(frozen=True)
class _Route:
    regex: re.Pattern
    literals: int
    template: str  # path as in the document, without the server's base path
    method: str
    document: Path
    server: str  # scheme://host of the document's first server
    base: str  # the server URL's path ("/v1" for Airbyte)


@functools.cache
def _routes(service: str) -> tuple[_Route, ...]:
    out = []
    for doc_path in _documents(service):
        doc = load(doc_path)
        server = urlsplit(((doc.get("servers") or [{}])[0]).get("url", "https://example.invalid"))
        for template, item in (doc.get("paths") or {}).items():
            parts = [p for p in template.split("/") if p]
            pattern = "".join("/" + (f"(?P<{_group(p)}>[^/]+)" if p.startswith("{")
                                     else re.escape(p)) for p in parts)
            regex = re.compile("^" + (pattern or "/") + "/?$")
            literals = sum(not p.startswith("{") for p in parts)
            for method in item:
                if method in HTTP_METHODS:
                    out.append(_Route(regex, literals, template, method.upper(), doc_path,
                                      f"{server.scheme}://{server.netloc}", server.path.rstrip("/")))
    # Most literal segments first: /crm/v3/objects/contacts before /crm/v3/objects/{objectType}.
    return tuple(sorted(out, key=lambda r: (-r.literals, -len(r.template))))


def _group(segment: str) -> str:
    return re.sub(r"\W", "_", segment.strip("{}"))


def find_operation(service: str, method: str, path: str) -> tuple[_Route, dict] | None:
    """The operation serving `method path`, and its path parameters by the document's names."""
    for route in _routes(service):
        if route.method == method.upper():
            m = route.regex.match(path)
            if m:
                names = [p.strip("{}") for p in route.template.split("/") if p.startswith("{")]
                return route, dict(zip(names, m.groups(), strict=True))
    return None


@functools.cache
def _validators(doc_path: Path):
    """(request parameters, request body, response) validators for a document, built once."""
    from jsonschema_path import SchemaPath
    from openapi_core.validation.request import validators as rq
    from openapi_core.validation.response import validators as rs

    doc = load(doc_path)
    spec = SchemaPath.from_dict(doc)
    v31 = str(doc.get("openapi", "3.0")).startswith("3.1")
    kinds = ((rq.V31RequestParametersValidator, rq.V31RequestBodyValidator, rs.V31ResponseValidator)
             if v31 else
             (rq.V30RequestParametersValidator, rq.V30RequestBodyValidator, rs.V30ResponseValidator))
    # HubSpot declares its error answers as "*/*"; the bodies are JSON and are judged as such.
    extra = {"*/*": _json_if_json}
    return tuple(cls(spec, extra_media_type_deserializers=extra) for cls in kinds)


def _json_if_json(value, **_params):
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


# ---------------------------------------------------------------- openapi-core adapters

class _Request:
    def __init__(self, route: _Route, variables: dict, method: str, path: str, query, headers,
                 body: bytes, content_type: str):
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        # The operation is the one find_operation chose: openapi-core is told its pattern and
        # variables rather than searching again (it would take /owners/ for /owners/{ownerId}).
        self.host_url, self.path = route.server, route.base + path
        self.path_pattern = route.base + route.template
        self.full_url_pattern = route.server + self.path_pattern
        self.method = method.lower()
        self.parameters = RequestParameters(query=ImmutableMultiDict(query),
                                            header=Headers(headers), cookie=ImmutableMultiDict(),
                                            path=variables)
        self.body, self.content_type = body or None, (content_type or "").lower()


class _Response:
    def __init__(self, status: int, headers, body: bytes, content_type: str):
        from werkzeug.datastructures import Headers

        self.status_code, self.headers = status, Headers(headers)
        self.data, self.content_type = body, (content_type or "").lower()


def _describe(exc: BaseException) -> list[tuple[str, str]]:
    """(where, message) pairs for an openapi-core error, down to each JSON-schema error."""
    from jsonschema.exceptions import best_match
    from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

    head = type(exc).__name__
    out: list[tuple[str, str]] = []
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, InvalidSchemaValue):
            for err in seen.schema_errors:
                # oneOf/anyOf: name the branch error that got furthest, after the whole value's
                top = ""
                while getattr(err, "context", None):
                    top = top or _short(err.message, 120) + " -> "
                    err = best_match(err.context)
                inst = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                     for p in getattr(err, "absolute_path", []))
                schema = "/".join(str(p) for p in getattr(err, "absolute_schema_path", []))
                out.append((f"{inst} (schema: {schema})", top + _short(getattr(err, "message", str(err)))))
            break
        seen = seen.__cause__ or seen.__context__
    return out or [(head, _short(str(exc) or head))]


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _declared_content(route: _Route, status: int) -> dict:
    doc = load(route.document)
    responses = doc["paths"][route.template][route.method.lower()].get("responses") or {}
    answer = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") \
        or responses.get("default") or {}
    if "$ref" in answer:
        answer = doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
    return answer.get("content") or {}


def _problem_rule(service: str, status: int) -> dict | None:
    for rule in _allowlist_file().get("problem_documents") or []:
        if rule["service"] == service and any(fnmatch.fnmatchcase(str(status), str(g))
                                              for g in rule["statuses"]):
            return rule
    return None


@functools.cache
def _problem_kinds(document: str) -> dict[tuple[int, str], tuple[str, dict]]:
    """(status, title) -> (type, schema) of every problem the document defines (its defaults)."""
    doc = load(SPEC_DIR / document)
    out = {}
    for name, schema in doc["components"]["schemas"].items():
        props: dict = {}
        for part in schema.get("allOf") or []:
            props.update(part.get("properties") or {})
        fixed = {k: (props.get(k) or {}).get("default") for k in ("status", "type", "title")}
        if all(fixed.values()):
            out[(int(fixed["status"]), fixed["title"])] = (
                fixed["type"], {"$ref": f"#/components/schemas/{name}",
                                "components": doc["components"]})
    return out


def _problem_errors(rule: dict, status: int, body: bytes) -> list[tuple[str, str]]:
    from openapi_schema_validator import OAS30Validator

    try:
        value = json.loads(body)
    except ValueError:
        return [("$", f"not JSON: {_short(body.decode(errors='replace'), 80)}")]
    if not isinstance(value, dict):
        return [("$", f"{type(value).__name__} is not a problem object")]
    kind = _problem_kinds(rule["document"]).get((status, value.get("title")))
    if kind is None:
        return [("$.title", f"no {status} problem titled {value.get('title')!r} in "
                            f"{rule['document']}")]
    out = []
    if value.get("type") != kind[0]:
        out.append(("$.type", f"{value.get('type')!r} is not the problem's type {kind[0]!r}"))
    if value.get("status", status) != status:
        out.append(("$.status", f"{value.get('status')!r} differs from the HTTP status {status}"))
    for err in OAS30Validator(kind[1]).iter_errors(value):
        inst = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        out.append((inst, _short(err.message)))
    return out


def _alias(service: str, path: str) -> str:
    """The path as the vendor's document spells it, for paths served under another spelling."""
    for a in aliases():
        if a["service"] == service and (path == a["path"] or path.startswith(a["path"] + "/")):
            return a["document_path"] + path[len(a["path"]):]
    return path


# ---------------------------------------------------------------- security requirements

def security(service: str, method: str, path: str) -> list[dict] | None:
    """The operation's security requirement objects (alternatives: any one suffices; within one,
    every scheme is needed), as its document declares them; [] when it asks none, None when no
    document declares the operation. OpenAPI 3 "Security Requirement Object"."""
    found = find_operation(service, method, _alias(service, path.rstrip("/") or "/"))
    return None if found is None else _requirements(found[0])


def _requirements(route: _Route) -> list[dict]:
    doc = load(route.document)
    op = doc["paths"][route.template][route.method.lower()]
    return list(op.get("security", doc.get("security")) or [])


def missing_scopes(requirements: list[dict], granted) -> list[str]:
    """[] when the granted OAuth scopes satisfy one of the operation's oauth2 requirements (or it
    has none); else the scopes of the smallest requirement, as HubSpot names them in a 403."""
    wanted = [set(r["oauth2"]) for r in requirements if "oauth2" in r]
    if not wanted or any(w <= set(granted) for w in wanted):
        return []
    return sorted(min(wanted, key=lambda w: len(w)))


def _presented(scheme: dict, query, headers) -> bool:
    """Whether a request carries the credentials of one security scheme (not whether they are
    valid: the stand-in answers that)."""
    kind = scheme.get("type")
    if kind in ("oauth2", "openIdConnect") or (kind == "http" and scheme.get("scheme", "").lower()
                                                == "bearer"):
        auth = headers.get("Authorization", "")
        return auth[:7].lower() == "bearer " and bool(auth[7:].strip())
    if kind == "http":
        return headers.get("Authorization", "").lower().startswith(scheme.get("scheme", "").lower())
    if kind == "apiKey":
        where = {"header": headers, "query": query}.get(scheme.get("in", ""), {})
        return bool(where.get(scheme.get("name", "")))
    return False


def _security_errors(route: _Route, query, headers) -> list[tuple[str, str]]:
    from werkzeug.datastructures import Headers, MultiDict

    doc = load(route.document)
    requirements = _requirements(route)
    if not requirements or any(not r for r in requirements):
        return []  # none asked, or `{}`: anonymous access allowed
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    hdrs, q = Headers(headers), MultiDict(query)
    if any(all(_presented(schemes.get(name, {}), q, hdrs) for name in r) for r in requirements):
        return []
    names = sorted({name for r in requirements for name in r})
    return [("security", f"no credentials for any of the operation's security schemes "
                         f"({', '.join(names)}): a call without them is refused (401)")]


def check(service: str, method: str, path: str, query, headers, body: bytes, content_type: str,
          status: int, resp_headers, resp_body: bytes | None, resp_content_type: str
          ) -> list[Violation]:
    """Every violation of the service's documents by one served call."""
    query, headers = list(query), list(headers)  # read twice below (iterators are welcome)
    path = _alias(service, path.rstrip("/") or "/")
    found = find_operation(service, method, path)
    if found is None:
        return [Violation(service, f"{method.upper()} {path}", "undeclared", status,
                          "operation", "no vendored document declares this method and path")]
    route, variables = found
    op = f"{route.method} {route.template}"
    params_v, body_v, resp_v = _validators(route.document)
    out = []
    req = _Request(route, variables, method, path, query, headers, body, content_type)
    if status < 400:
        # Served without the credentials the operation requires: the real service says 401.
        out += [Violation(service, op, "request", status, where, msg, route.document.name)
                for where, msg in _security_errors(route, query, headers)]
        for validator in (params_v, body_v):
            for err in validator.iter_errors(req):
                if type(err).__name__ == "MissingRequestBody":
                    continue  # an optional body left out
                for where, msg in _describe(err):
                    out.append(Violation(service, op, "request", status,
                                         f"{type(err).__name__} {where}", msg, route.document.name))
    problems = _problem_rule(service, status)
    if problems is not None and resp_body is not None and not _declared_content(route, status):
        # The operation declares no body for this error (or not the status at all): the
        # service's problem document judges it instead (allowlist.yaml `problem_documents`).
        return out + [Violation(service, op, "response", status, f"{status} problem {where}",
                                msg, problems["document"])
                      for where, msg in _problem_errors(problems, status, resp_body)]
    if resp_body is not None:
        resp = _Response(status, resp_headers, resp_body, resp_content_type)
        for err in resp_v.iter_errors(req, resp):
            if type(err).__name__ == "MissingData" and not resp_body \
                    and not _declared_content(route, status):
                continue  # `content: {}` declares an empty answer; openapi-core wants one anyway
            for where, msg in _describe(err):
                out.append(Violation(service, op, "response", status,
                                     f"{status} {type(err).__name__} {where}", msg,
                                     route.document.name))
    return out


# ---------------------------------------------------------------- allow-list and recording

@functools.lru_cache(maxsize=1)
def _allowlist_file() -> dict:
    doc = yaml.safe_load(ALLOWLIST.read_text()) or {}
    for key, needed in (("exceptions", {"service", "operation", "reason", "evidence"}),
                        ("aliases", {"service", "path", "document_path", "reason", "evidence"}),
                        ("problem_documents", {"service", "statuses", "document", "reason",
                                               "evidence"})):
        for e in doc.get(key) or []:
            missing = needed - set(e)
            if missing:
                raise ValueError(f"{ALLOWLIST}: {key} entry {e} lacks {sorted(missing)}")
    return doc


def allowlist() -> list[dict]:
    return _allowlist_file().get("exceptions") or []


def aliases() -> list[dict]:
    return _allowlist_file().get("aliases") or []


def allowed(v: Violation) -> dict | None:
    for e in allowlist():
        if e["service"] != v.service or not fnmatch.fnmatchcase(v.operation, e["operation"]):
            continue
        if e.get("kind") and e["kind"] != v.kind:
            continue
        if e.get("status") and not fnmatch.fnmatchcase(str(v.status), str(e["status"])):
            continue
        if e.get("where") and not fnmatch.fnmatchcase(v.where, e["where"]):
            continue
        if e.get("message") and not fnmatch.fnmatchcase(v.message, e["message"]):
            continue
        return e
    return None


class Recorder:
    """Violations seen in this process since the last drain (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: list[Violation] = []
        self.checked = 0

    def add(self, items: list[Violation], screen: bool = True) -> None:
        """Record what the allow-list does not excuse (screen=False: record all)."""
        kept = [v for v in items if not screen or allowed(v) is None]
        with self._lock:
            self.checked += 1
            if not self._child():
                self._items.extend(kept)
        log = os.environ.get(LOG_ENV)
        if kept and log and self._child():
            with open(log, "a") as fh:
                for v in kept:
                    fh.write(json.dumps(asdict(v)) + "\n")

    @staticmethod
    def _child() -> bool:
        """A stand-in in a process a test started: it reports through the log file."""
        owner = os.environ.get(OWNER_ENV)
        return bool(owner) and owner != str(os.getpid())

    def drain(self) -> list[Violation]:
        with self._lock:
            items, self._items = self._items, []
        log = os.environ.get(LOG_ENV)
        if log and os.path.exists(log):
            with open(log, "r+") as fh:
                lines = fh.readlines()
                fh.seek(0)
                fh.truncate()
            items += [Violation(**json.loads(x)) for x in lines if x.strip()]
        return items


RECORDER = Recorder()


# ---------------------------------------------------------------- the Flask hook

def warm(service: str) -> None:
    """Parse the service's documents and build their validators now, once per process, so that
    no served request waits for it (a client's 3 s timeout would fire on the first call)."""
    for route in _routes(service):
        _validators(route.document)
    for rule in _allowlist_file().get("problem_documents") or []:
        if rule["service"] == service:
            _problem_kinds(rule["document"])


def install(app, service: str, normalise=lambda path: path) -> None:
    """Validate every call `app` serves against `service`'s documents. `normalise` maps the
    served path to the document's (e.g. Airbyte's /api/public/v1/x to /x). A handler that
    answers something broken on purpose (an injected fault) sets flask.g.contract_skip."""
    from flask import g, request

    warm(service)

    def keep_body():
        request.get_data(cache=True)  # form parsing still works from the cached bytes

    def judge(response):
        path = request.path
        if path.startswith(CONTROL_PREFIXES) or g.get("contract_skip"):
            return response
        doc_path = normalise(path)
        if doc_path is None:
            return response
        try:
            body = None if response.is_streamed else response.get_data()
            RECORDER.add(check(service, request.method, doc_path, request.args.items(multi=True),
                               request.headers.items(), request.get_data(cache=True),
                               request.content_type or "", response.status_code,
                               response.headers.items(), body, response.content_type or ""))
        except Exception as exc:  # noqa: BLE001 - a checker fault must show, never break the stand-in
            RECORDER.add([Violation(service, f"{request.method} {path}", "checker",
                                    response.status_code, "contract_check",
                                    f"{type(exc).__name__}: {exc}")], screen=False)
        return response

    # First before any other hook (which may answer early); last after every other (Flask runs
    # after-request functions in reverse order of registration).
    app.before_request_funcs.setdefault(None, []).insert(0, keep_body)
    app.after_request_funcs.setdefault(None, []).insert(0, judge)
