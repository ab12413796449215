"""CRM v3/v4 object APIs: list, read, batch read, search, properties, associations, schemas.
Unknown paths are answered 404 and recorded in st.unknown_paths (to learn what clients call)."""
import bisect
import json
import logging
import math
from datetime import datetime

from flask import g, request

from . import guard, marketing
from .data import PropertyDef, iso_ms
from .errors import error, json_response
from .schema import EMPTY_OBJECTS

log = logging.getLogger("hubspot_sandbox")
SEARCH_CAP = 10_000
HISTORY_PAGE_CAP = 50
MAX_ASSOC_BATCH_INPUTS = 1000   # v4/v3 associations batch read (see assoc_v4)
SEARCH_CACHE_SIZE = 16          # result lists kept per table (one per query being paged through)
_RANGE_OPS = {"EQ", "GT", "GTE", "LT", "LTE", "BETWEEN"}
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
        other = g.store.resolve(name)
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
        if name in ("createdate", "hs_createdate"):
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
        if name in (self.t.cursor_property, "hs_lastmodifieddate", "lastmodifieddate",
                    "createdate", "hs_createdate"):      # the record's own times, always dates
            return _to_ms(raw)
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
                raise ValueError(f"unsupported filter {op} on {name}") from None
            if not ok:
                return False
        return True

    @staticmethod
    def parse(body):
        groups = [grp.get("filters", []) for grp in body.get("filterGroups") or []]
        if body.get("filters"):
            groups.append(body["filters"])
        if len(groups) > 5 or sum(len(x) for x in groups) > 18:
            raise ValueError("too many filters: at most 5 filterGroups and 18 filters")
        sorts = body.get("sorts") or []
        sort = None
        if sorts:
            s = sorts[0]
            if isinstance(s, str):
                sort = (s.lstrip("-"), s.startswith("-"))
            else:
                sort = (s.get("propertyName"), s.get("direction", "ASCENDING") == "DESCENDING")
        return groups, sort

    def run(self, body, use_index=True):
        """Record indices matching the query, in result order. With use_index, range filters on
        last-modified bisect the table's sorted index, ranges on hs_object_id bound the indices
        directly, and the result list is kept for the pages that follow (until the table
        changes or a lagging record becomes searchable); otherwise every record is scanned."""
        groups, sort = self.parse(body)
        if not use_index:
            return self.scan(groups, sort)
        t = self.t
        key = json.dumps([groups, sort], sort_keys=True, default=str)
        hit = t.search_cache.get(key)
        if hit is not None and hit[0] == t.version and self.now_ms < hit[1]:
            return hit[2]
        hits = self.plan(groups, sort)
        valid_until = min((ms for ms in t.indexed_ms.values() if ms > self.now_ms), default=math.inf)
        if len(t.search_cache) >= SEARCH_CACHE_SIZE:
            t.search_cache.pop(next(iter(t.search_cache)))
        t.search_cache[key] = (t.version, valid_until, hits)
        return hits

    def _is_cursor(self, name):
        return name in (self.t.cursor_property, "hs_lastmodifieddate", "lastmodifieddate")

    def _bounds(self, f, name):
        """[lo, hi] integer bounds of a range filter, or None when it cannot be indexed."""
        op = f.get("operator", "EQ")
        if op not in _RANGE_OPS:
            return None
        vals = [self.coerce(name, f.get("value"))]
        if op == "BETWEEN":
            vals.append(self.coerce(name, f.get("highValue")))
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
            return None
        x = vals[0]
        return {"EQ": (math.ceil(x), math.floor(x)), "GT": (math.floor(x) + 1, math.inf),
                "GTE": (math.ceil(x), math.inf), "LT": (-math.inf, math.ceil(x) - 1),
                "LTE": (-math.inf, math.floor(x)),
                "BETWEEN": (math.ceil(x), math.floor(vals[-1]))}[op]

    def plan(self, groups, sort):
        t = self.t
        cands, residual, by_updated = range(t.count), groups, False
        if len(groups) == 1:
            id_lo, id_hi, u_lo, u_hi, rest = 0, t.count - 1, None, None, []
            for f in groups[0]:
                name = f.get("propertyName")
                b = self._bounds(f, name) if (name == "hs_object_id" or self._is_cursor(name)) else None
                if b is None:
                    rest.append(f)
                elif name == "hs_object_id":
                    id_lo = max(id_lo, b[0] - t.base_id) if b[0] != -math.inf else id_lo
                    id_hi = min(id_hi, b[1] - t.base_id) if b[1] != math.inf else id_hi
                else:
                    u_lo = b[0] if u_lo is None else max(u_lo, b[0])
                    u_hi = b[1] if u_hi is None else min(u_hi, b[1])
            residual = [rest] if rest else []
            id_lo, id_hi = int(max(id_lo, 0)), int(min(id_hi, t.count - 1))
            if u_lo is not None:
                idx = t.upd_index()
                a = 0 if u_lo == -math.inf else bisect.bisect_left(idx, (u_lo, -1))
                z = len(idx) if u_hi == math.inf else bisect.bisect_right(idx, (u_hi, math.inf))
                if id_hi - id_lo + 1 < (z - a) // 4:        # the id range is the narrower
                    upd = t.updated_ms
                    cands = [i for i in range(id_lo, id_hi + 1) if u_lo <= upd(i) <= u_hi]
                elif id_lo == 0 and id_hi == t.count - 1:
                    cands, by_updated = [i for _, i in idx[a:z]], True
                else:
                    cands = [i for _, i in idx[a:z] if id_lo <= i <= id_hi]
                    by_updated = True
            else:
                cands = range(id_lo, id_hi + 1)
        archived, now = t.archived, self.now_ms
        pending = {i for i, ms in t.indexed_ms.items() if ms > now}
        if residual:
            hits = [i for i in cands if i not in archived and i not in pending
                    and any(self.matches(i, grp) for grp in residual)]
        elif archived or pending:
            hits = [i for i in cands if i not in archived and i not in pending]
        else:
            hits = list(cands)
        if sort is None or (sort[0] == "hs_object_id" and not sort[1]):
            if by_updated:
                hits.sort()
        elif self._is_cursor(sort[0]):
            if not by_updated:
                hits.sort(key=lambda i: (t.updated_ms(i), i))
            if sort[1]:
                hits.reverse()
        else:
            name = sort[0]
            if by_updated:
                hits.sort()
            hits.sort(key=lambda i: (self.value(i, name) is None, self.value(i, name) or 0, i),
                      reverse=sort[1])
        return hits

    def scan(self, groups, sort):
        """The reference: every record, every filter (the baseline the index is measured
        against, and what the tests compare it with)."""
        t, lag = self.t, self.t.indexed_ms
        hits = [i for i in range(t.count)
                if i not in t.archived and lag.get(i, 0) <= self.now_ms
                and (not groups or any(self.matches(i, grp) for grp in groups))]
        if sort is not None:
            name, desc = sort
            if name != "hs_object_id" or desc:
                hits.sort(key=lambda i: (self.value(i, name) is None, self.value(i, name) or 0, i),
                          reverse=desc)
        return hits


def register(app, st):
    guard.register(app, st)
    marketing.register(app, st)

    @app.delete("/appinstalls/2026-03/external-install")
    def external_uninstall():
        """The app uninstalls itself from the token's account: 204, and the account's tokens of
        that app stop working (appUninstalls.json 2026-03). The guard has checked the token."""
        from flask import Response, g

        from .journal import record_uninstall

        if st.uninstall(g.hub_id, g.client_id):
            record_uninstall(st, g.client_id, g.hub_id)
        return Response(status=204)
    st.unknown_paths = []

    def table(object_type):
        return g.store.resolve(object_type)

    def ok(body, code=200):
        return json_response(body, code)

    def not_found(object_type):
        return error(400, "error", f"Unable to infer object type from: {object_type}",
                     category="OBJECT_NOT_FOUND")

    def empty_or_404(object_type, body):
        if object_type in EMPTY_OBJECTS:
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

    def v3_properties(object_type):
        t = table(object_type)
        if t is None:
            return BASE_PROPERTIES if object_type in EMPTY_OBJECTS else None
        return t.properties

    @app.get("/crm/v3/properties/<object_type>/<property_name>")
    def property_by_name(object_type, property_name):
        props = v3_properties(object_type)
        if props is None:
            return not_found(object_type)
        for p in props:
            if p.name == property_name:
                return ok(p.v3())
        return error(404, "error", f"Unable to find property {property_name} on {object_type}",
                     category="OBJECT_NOT_FOUND")

    def property_groups(object_type):
        props = v3_properties(object_type)
        if props is None:
            return None
        names = list(dict.fromkeys(p.group for p in props))
        return [{"name": n, "label": n.replace("_", " ").title(), "displayOrder": k,
                 "archived": False} for k, n in enumerate(names)]

    @app.get("/crm/v3/properties/<object_type>/groups")
    def list_property_groups(object_type):
        groups = property_groups(object_type)
        return not_found(object_type) if groups is None else ok({"results": groups})

    @app.get("/crm/v3/properties/<object_type>/groups/<group_name>")
    def property_group(object_type, group_name):
        for grp in property_groups(object_type) or []:
            if grp["name"] == group_name:
                return ok(grp)
        return error(404, "error", f"Unable to find property group {group_name} on {object_type}",
                     category="OBJECT_NOT_FOUND")

    @app.get("/crm/v3/objects/<object_type>")
    def list_objects(object_type):
        t = table(object_type)
        if t is None:
            return empty_or_404(object_type, {"results": []})
        history = _csv_param("propertiesWithHistory")
        # HubSpot: asking for history lowers the page size to 50 (CRM v3 objects API,
        # `propertiesWithHistory`; HubSpot-public-api-spec-collection CRM/Deals v3 deals.json).
        limit = _limit(10, HISTORY_PAGE_CAP if history else 100)
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
                    results.append(_with_assocs(t, i, t.record(i, names, archived, history),
                                                assocs))
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
        return ok(_with_assocs(t, i, t.record(i, _csv_param("properties"), archived,
                                              _csv_param("propertiesWithHistory")),
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
                results.append(t.record(i, body.get("properties"),
                                        history=body.get("propertiesWithHistory")))
        out = {"status": "COMPLETE", "results": results, "startedAt": started,
               "completedAt": iso_ms(int(st.clock.now() * 1000))}
        if missing:
            # StandardError (the CRM documents' 207 shape): errors and links are required too.
            out.update(numErrors=1, errors=[{"status": "error", "category": "OBJECT_NOT_FOUND",
                                             "message": "Could not get some objects, they may "
                                             "be deleted or not exist.",
                                             "context": {"ids": missing}, "errors": [],
                                             "links": {}}])
            return ok(out, 207)
        return ok(out)

    @app.post("/crm/objects/v3/deals/splits/batch/read")  # deal-splits-v3.json
    def deal_splits_batch_read():
        """HubSpot's deal splits API: the splits of each deal asked for."""
        deals, splits = g.store.tables["deals"], g.store.tables["deal_splits"]
        inputs = (request.get_json(silent=True) or {}).get("inputs") or []
        if len(inputs) > 100:
            return error(400, "error", "Batch size cannot exceed 100.", category="VALIDATION_ERROR")
        now = iso_ms(int(st.clock.now() * 1000))
        results = []
        with g.store.lock:
            for inp in inputs:
                i = deals.index_of(inp.get("id"))
                if i is None or i in deals.archived:
                    continue
                results.append({"id": str(inp.get("id")), "splits": [
                    splits.record(j, ["hs_deal_split_percentage", "hubspot_owner_id"])
                    for j in deals.associated(i, splits)]})
        return ok({"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now})

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
                hits = _Search(t, int(st.clock.now() * 1000)).run(
                    body, use_index=st.settings.get("search_index", True))
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
        now = iso_ms(int(st.clock.now() * 1000))
        if a is None:
            return ok({"status": "COMPLETE", "startedAt": now, "completedAt": now, "results": []})
        # associations-v4.json: toObjectId is a string; each association's types as the account
        # has them (data.AccountStore.association_types: unlabelled, primary, the portal's
        # labels); an unlabelled type has no label (the document's label is a non-nullable
        # string). HubSpot takes at most 1,000 inputs (changelog 2025-02-10, "Bug Fix: Batch
        # Read Limit for HubSpot Associations API").
        if len(ids) > MAX_ASSOC_BATCH_INPUTS:
            return error(400, "error", f"Batch size cannot exceed {MAX_ASSOC_BATCH_INPUTS}.",
                         category="VALIDATION_ERROR")
        with g.store.lock:
            results = [{"from": {"id": rid}, "to": [
                {"toObjectId": str(j), "associationTypes": g.store.association_types(
                    a, a.index_of(rid), b, j - b.base_id)} for j in js]} for rid, js in pairs]
        return ok({"status": "COMPLETE", "startedAt": now, "completedAt": now,
                   "results": results})

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
        with g.store.lock:
            return ok({"results": [{"toObjectId": str(j), "associationTypes":
                                    g.store.association_types(a, a.index_of(rid), b, j - b.base_id)}
                                   for rid, js in pairs for j in js]})

    def schema_scope_error():
        if {"crm.schemas.custom.read", "crm.objects.custom.read"} & set(g.scopes or ()):
            return None
        return error(403, "error", "This app hasn't been granted all required scopes to make "
                     "this call. Read more about required scopes here: "
                     "https://developers.hubspot.com/scopes.", category="MISSING_SCOPES",
                     errors=[{"message": "One or more of the following scopes are required.",
                              "context": {"requiredGranularScopes": ["crm.schemas.custom.read"]}}],
                     links={"scopes": "https://developers.hubspot.com/scopes"})

    @app.get("/crm/v3/schemas")
    @app.get("/crm-object-schemas/v3/schemas")
    def schemas():
        denied = schema_scope_error()
        if denied is not None:
            return denied
        archived = request.args.get("archived", "false").lower() == "true"
        return ok({"results": [] if archived else g.store.schemas})

    @app.get("/crm/v3/schemas/<object_type>")
    @app.get("/crm-object-schemas/v3/schemas/<object_type>")
    def schema(object_type):
        denied = schema_scope_error()
        if denied is not None:
            return denied
        t = table(object_type)
        if t is None or t.custom is None:
            return error(404, "error", f"Unable to find object schema for {object_type}",
                         category="OBJECT_NOT_FOUND")
        return ok(g.store.schema_of(t.name))

    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(path):
        st.unknown_paths.append(f"{request.method} {request.path}")
        log.warning("sandbox: unknown path %s %s", request.method, request.full_path)
        return error(404, "error", f"Unknown path {request.path}", category="OBJECT_NOT_FOUND")
