"""CRM v3/v4 object APIs: list, read, batch read, search, properties, associations, schemas.
Unknown paths are answered 404 and recorded in st.unknown_paths (to learn what clients call)."""
import logging
from datetime import datetime

from flask import g, request

from . import guard, marketing
from .data import PropertyDef, iso_ms
from .errors import error, json_response
from .schema import ASSOCIATION_TYPE_IDS, EMPTY_OBJECTS, canonical

log = logging.getLogger("hubspot_sandbox")
SEARCH_CAP = 10_000
BASE_PROPERTIES = [PropertyDef("hs_object_id", "number", "number", "id"),
                   PropertyDef("createdate", "datetime", "date", "created"),
                   PropertyDef("hs_lastmodifieddate", "datetime", "date", "updated")]
_SINGULAR = {"companies": "company", "line_items": "line_item"}


def _singular(name):
    return _SINGULAR.get(name, name[:-1] if name.endswith("s") else name)


def _to_ms(value):
    s = str(value)
    if s.lstrip("-").isdigit():
        return int(s)
    try:
        return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _csv_param(name):
    """Query list params arrive as repeats, as 'a,b', or (from the connector) as "['a', 'b']"."""
    out = []
    for v in request.args.getlist(name):
        out += [x.strip(" '\"[]") for x in v.split(",")]
    return [x for x in out if x] or None


def _limit(default, cap):
    try:
        return max(1, min(int(request.values.get("limit", default)), cap))
    except ValueError:
        return default


def _with_assocs(t, i, rec, assoc_names):
    assocs = {}
    for name in assoc_names or ():
        other = g.store.tables.get(canonical(name) or "")
        if other is None:
            continue
        js = t.associated(i, other)
        if js:
            typ = f"{_singular(t.name)}_to_{_singular(other.name)}"
            assocs[name] = {"results": [{"id": str(other.base_id + j), "type": typ} for j in js]}
    if assocs:
        rec["associations"] = assocs
    return rec


class _Search:
    """HubSpot search semantics over one table: filter groups (OR of ANDs), one sort."""

    def __init__(self, t, now_ms):
        self.t, self.now_ms = t, now_ms

    def value(self, i, name):
        t = self.t
        if name in ("hs_object_id",):
            return t.base_id + i
        if name == "createdate":
            return t.created_ms(i)
        if name in (t.cursor_property, "hs_lastmodifieddate", "lastmodifieddate"):
            return t.updated_ms(i)
        p = t.by_name.get(name)
        v = t.all_properties(i).get(name)
        if v is None or p is None:
            return v
        if p.type == "number":
            return float(v)
        if p.type in ("datetime", "date"):
            return _to_ms(v)
        return v

    def coerce(self, name, raw):
        if raw is None:
            return None
        p = self.t.by_name.get(name)
        if name == "hs_object_id" or (p is not None and p.type == "number"):
            try:
                return float(raw)
            except ValueError:
                return raw
        if p is not None and p.type in ("datetime", "date"):
            return _to_ms(raw)
        return str(raw)

    def matches(self, i, group):
        for f in group:
            op, name = f.get("operator", "EQ"), f.get("propertyName")
            v = self.value(i, name)
            if op == "HAS_PROPERTY":
                if v is None:
                    return False
                continue
            if op == "NOT_HAS_PROPERTY":
                if v is not None:
                    return False
                continue
            if v is None:
                return False
            if op in ("IN", "NOT_IN"):
                vals = {self.coerce(name, x) for x in f.get("values", [])}
                if (v in vals) != (op == "IN"):
                    return False
                continue
            if op == "BETWEEN":
                lo, hi = self.coerce(name, f.get("value")), self.coerce(name, f.get("highValue"))
                if not (lo <= v <= hi):
                    return False
                continue
            x = self.coerce(name, f.get("value"))
            try:
                ok = {"EQ": v == x, "NEQ": v != x, "GT": v > x, "GTE": v >= x, "LT": v < x,
                      "LTE": v <= x, "CONTAINS_TOKEN": str(x).strip("*") in str(v)}[op]
            except (KeyError, TypeError):
                raise ValueError(f"unsupported filter {op} on {name}")
            if not ok:
                return False
        return True

    def run(self, body):
        groups = [grp.get("filters", []) for grp in body.get("filterGroups") or []]
        if body.get("filters"):
            groups.append(body["filters"])
        if len(groups) > 5 or sum(len(x) for x in groups) > 18:
            raise ValueError("too many filters: at most 5 filterGroups and 18 filters")
        t, lag = self.t, self.t.indexed_ms
        hits = [i for i in range(t.count)
                if i not in t.archived and lag.get(i, 0) <= self.now_ms
                and (not groups or any(self.matches(i, grp) for grp in groups))]
        sorts = body.get("sorts") or []
        if sorts:
            s = sorts[0]
            if isinstance(s, str):
                name, desc = s.lstrip("-"), s.startswith("-")
            else:
                name, desc = s.get("propertyName"), s.get("direction", "ASCENDING") == "DESCENDING"
            if name != "hs_object_id" or desc:
                hits.sort(key=lambda i: (self.value(i, name) is None, self.value(i, name) or 0, i),
                          reverse=desc)
        return hits


def register(app, st):
    guard.register(app, st)
    marketing.register(app, st)
    st.unknown_paths = []

    def table(object_type):
        name = canonical(object_type)
        return g.store.tables.get(name) if name else None

    def ok(body, code=200):
        return json_response(body, code)

    def not_found(object_type):
        return error(400, "error", f"Unable to infer object type from: {object_type}",
                     category="OBJECT_NOT_FOUND")

    def empty_or_404(object_type, body):
        if object_type in EMPTY_OBJECTS or object_type.startswith(("p_", "2-")):
            return ok(body)
        return not_found(object_type)

    @app.get("/properties/v2/<entity>/properties")
    def properties_v2(entity):
        if entity == "form":
            return ok(marketing.FORM_PROPERTIES)
        t = table(entity)
        if t is None:   # objects kept empty still have HubSpot's base properties
            return empty_or_404(entity, [p.v2() for p in BASE_PROPERTIES])
        return ok([p.v2() for p in t.properties])

    @app.get("/crm/v3/properties/<object_type>")
    def properties_v3(object_type):
        t = table(object_type)
        if t is None:
            return empty_or_404(object_type, {"results": [p.v3() for p in BASE_PROPERTIES]})
        return ok({"results": [p.v3() for p in t.properties]})

    @app.get("/crm/v3/objects/<object_type>")
    def list_objects(object_type):
        t = table(object_type)
        if t is None:
            return empty_or_404(object_type, {"results": []})
        limit = _limit(10, 100)
        names = _csv_param("properties")
        assocs = _csv_param("associations")
        archived = request.args.get("archived", "false").lower() == "true"
        try:
            i = max(0, int(request.args.get("after") or t.base_id) - t.base_id)
        except ValueError:
            return error(400, "error", "Invalid after value", category="VALIDATION_ERROR")
        results = []
        with g.store.lock:
            while i < t.count and len(results) < limit:
                if (i in t.archived) == archived:
                    results.append(_with_assocs(t, i, t.record(i, names, archived), assocs))
                i += 1
            while i < t.count and (i in t.archived) != archived:
                i += 1
        body = {"results": results}
        if i < t.count:
            after = str(t.base_id + i)
            body["paging"] = {"next": {"after": after,
                                       "link": f"{request.base_url}?after={after}"}}
        return ok(body)

    @app.get("/crm/v3/objects/<object_type>/<rec_id>")
    def get_object(object_type, rec_id):
        t = table(object_type)
        i = t.index_of(rec_id) if t is not None else None
        archived = request.args.get("archived", "false").lower() == "true"
        if i is None or (i in t.archived) != archived:
            return error(404, "error", "Object not found.", category="OBJECT_NOT_FOUND")
        return ok(_with_assocs(t, i, t.record(i, _csv_param("properties"), archived),
                               _csv_param("associations")))

    @app.post("/crm/v3/objects/<object_type>/batch/read")
    def batch_read(object_type):
        t = table(object_type)
        if t is None:
            return empty_or_404(object_type, {"status": "COMPLETE", "results": []})
        body = request.get_json(silent=True) or {}
        inputs = body.get("inputs") or []
        if len(inputs) > 100:
            return error(400, "error", "Batch size cannot exceed 100.", category="VALIDATION_ERROR")
        started = iso_ms(int(st.clock.now() * 1000))
        results, missing = [], []
        for inp in inputs:
            i = t.index_of(inp.get("id"))
            if i is None or i in t.archived:
                missing.append(str(inp.get("id")))
            else:
                results.append(t.record(i, body.get("properties")))
        out = {"status": "COMPLETE", "results": results, "startedAt": started,
               "completedAt": iso_ms(int(st.clock.now() * 1000))}
        if missing:
            out.update(numErrors=1, errors=[{"status": "error", "category": "OBJECT_NOT_FOUND",
                                             "message": "Could not get some objects, they may "
                                             "be deleted or not exist.",
                                             "context": {"ids": missing}}])
            return ok(out, 207)
        return ok(out)

    @app.post("/crm/v3/objects/<object_type>/search")
    def search(object_type):
        t = table(object_type)
        if t is None:
            return empty_or_404(object_type, {"total": 0, "results": []})
        body = request.get_json(silent=True) or {}
        limit = max(1, min(int(body.get("limit") or 10), 200))
        try:
            after = int(body.get("after") or 0)
        except ValueError:
            return error(400, "error", "Invalid after value", category="VALIDATION_ERROR")
        if after >= SEARCH_CAP:       # HubSpot: a query pages through 10,000 results at most
            return error(400, "error", "There was a problem with the request.",
                         category="VALIDATION_ERROR",
                         context={"after": [f"Paging beyond {SEARCH_CAP} results is not allowed."]})
        with g.store.lock:
            try:
                hits = _Search(t, int(st.clock.now() * 1000)).run(body)
            except ValueError as exc:
                return error(400, "error", str(exc), category="VALIDATION_ERROR")
            page = hits[after:after + limit]
            names = body.get("properties") or None
            results = [t.record(i, names) for i in page]
        out = {"total": len(hits), "results": results}
        if after + limit < len(hits):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return ok(out)

    def assoc_pairs(from_type, to_type, ids):
        a, b = table(from_type), table(to_type)
        if a is None or b is None:
            return None, None, None
        pairs = []
        for rid in ids:
            i = a.index_of(rid)
            if i is not None and i not in a.archived:
                js = a.associated(i, b)
                if js:
                    pairs.append((str(rid), [b.base_id + j for j in js]))
        return a, b, pairs

    @app.post("/crm/v4/associations/<from_type>/<to_type>/batch/read")
    def assoc_v4(from_type, to_type):
        ids = [inp.get("id") for inp in (request.get_json(silent=True) or {}).get("inputs", [])]
        a, b, pairs = assoc_pairs(from_type, to_type, ids)
        if a is None:
            return ok({"status": "COMPLETE", "results": []})
        type_id = ASSOCIATION_TYPE_IDS.get((a.name, b.name), 0)
        now = iso_ms(int(st.clock.now() * 1000))
        return ok({"status": "COMPLETE", "startedAt": now, "completedAt": now, "results": [
            {"from": {"id": rid}, "to": [{"toObjectId": j, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]} for j in js]}
            for rid, js in pairs]})

    @app.post("/crm/v3/associations/<from_type>/<to_type>/batch/read")
    def assoc_v3(from_type, to_type):
        ids = [inp.get("id") for inp in (request.get_json(silent=True) or {}).get("inputs", [])]
        a, b, pairs = assoc_pairs(from_type, to_type, ids)
        if a is None:
            return ok({"status": "COMPLETE", "results": []})
        typ = f"{_singular(a.name)}_to_{_singular(b.name)}"
        return ok({"status": "COMPLETE", "results": [
            {"from": {"id": rid}, "to": [{"id": str(j), "type": typ} for j in js]}
            for rid, js in pairs]})

    @app.get("/crm/v4/objects/<from_type>/<rec_id>/associations/<to_type>")
    def assoc_v4_one(from_type, rec_id, to_type):
        a, b, pairs = assoc_pairs(from_type, to_type, [rec_id])
        if a is None:
            return not_found(from_type)
        type_id = ASSOCIATION_TYPE_IDS.get((a.name, b.name), 0)
        return ok({"results": [{"toObjectId": j, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]}
            for _, js in pairs for j in js]})

    @app.get("/crm/v3/schemas")
    def schemas():
        return ok({"results": []})     # no custom objects in sandbox accounts

    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(path):
        st.unknown_paths.append(f"{request.method} {request.path}")
        log.warning("sandbox: unknown path %s %s", request.method, request.full_path)
        return error(404, "error", f"Unknown path {request.path}", category="OBJECT_NOT_FOUND")
