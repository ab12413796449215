"""/v1/workspaces, /v1/sources, /v1/destinations: Airbyte's shapes and validation order."""
from __future__ import annotations

from flask import jsonify

from . import problems, specs
from .catalog import DESTINATION_DEFINITIONS, SOURCE_DEFINITIONS
from .requests_util import is_uuid, json_body, page, query_bool, query_list

_NOTIFY_OFF = {"email": {"enabled": False}, "webhook": {"enabled": False}}
_NOTIFICATIONS = {k: _NOTIFY_OFF for k in ("failure", "success", "connectionUpdate",
                                            "connectionUpdateActionRequired", "syncDisabled",
                                            "syncDisabledWarning")}

# Per actor kind: table, id field, type field, known definitions.
KINDS = {
    "source": ("sources", "sourceId", "sourceType", SOURCE_DEFINITIONS),
    "destination": ("destinations", "destinationId", "destinationType", DESTINATION_DEFINITIONS),
}


def render_workspace(w: dict) -> dict:
    return {"workspaceId": w["workspaceId"], "name": w["name"], "dataResidency": "auto",
            "notifications": w.get("notifications") or _NOTIFICATIONS}


def render_actor(kind: str, rec: dict) -> dict:
    _, id_key, type_key, _ = KINDS[kind]
    return {id_key: rec[id_key], "name": rec["name"], type_key: rec["type"],
            "definitionId": rec["definitionId"], "workspaceId": rec["workspaceId"],
            "configuration": specs.mask(rec["type"], rec["configuration"]),
            "createdAt": rec["createdAt"]}


def get_or_404(store, table: dict, rid: str, kind: str) -> dict:
    rec = store.live(table, rid, kind) if is_uuid(rid) else None
    if rec is None:
        raise problems.not_found(kind, rid)
    return rec


def delete_connections_of(store, field: str, rid: str) -> None:
    # Airbyte deletes (deprecates) the connections that use a deleted source or destination.
    for c in store.connections.values():
        if c[field] == rid and not c["deleted"]:
            c["deleted"], c["status"] = True, "deprecated"


def register(bp, emu) -> None:
    store = emu.store

    # ---- workspaces
    @bp.get("/workspaces")
    def list_workspaces():
        ids, inc = query_list("workspaceIds"), query_bool("includeDeleted")
        with store.lock:
            recs = sorted((w for w in store.workspaces.values()
                           if (inc or not w["deleted"]) and (not ids or w["workspaceId"] in ids)
                           and store.listed(w)),
                          key=lambda r: r["_seq"])
        extra = {"includeDeleted": str(inc).lower(), **({"workspaceIds": ",".join(ids)} if ids else {})}
        return jsonify(page(recs, render_workspace, "/workspaces", extra))

    @bp.post("/workspaces")
    def create_workspace():
        body = json_body({"name": "str", "organizationId": "uuid", "notifications": "obj",
                          "regionId": "uuid"}, ("name",))
        rec = emu.add_workspace(body["name"], body.get("notifications"))
        emu.note_create("workspace", rec)
        return jsonify(render_workspace(rec))

    @bp.get("/workspaces/<wid>")
    def get_workspace(wid):
        with store.lock:
            return jsonify(render_workspace(get_or_404(store, store.workspaces, wid, "workspace")))

    @bp.patch("/workspaces/<wid>")
    def update_workspace(wid):
        body = json_body({"name": "str", "notifications": "obj", "regionId": "uuid"})
        with store.lock:
            w = get_or_404(store, store.workspaces, wid, "workspace")
            w.update({k: body[k] for k in ("name", "notifications") if body.get(k) is not None})
            return jsonify(render_workspace(w))

    @bp.delete("/workspaces/<wid>")
    def delete_workspace(wid):
        with store.lock:
            get_or_404(store, store.workspaces, wid, "workspace")["deleted"] = True
            for table in (store.sources, store.destinations):
                for rec in table.values():
                    if rec["workspaceId"] == wid:
                        rec["deleted"] = True
            delete_connections_of(store, "workspaceId", wid)
        return "", 204

    @bp.put("/workspaces/<wid>/oauthCredentials")
    def put_workspace_oauth(wid):
        # createOrUpdateWorkspaceOAuthCredentials (api.yaml, WorkspaceOAuthCredentialsRequest):
        # {actorType: source|destination, name: "hubspot", configuration: {...}}; 200, no body.
        body = json_body({"actorType": ("source", "destination"), "name": "str",
                          "configuration": "obj"}, ("actorType", "name", "configuration"))
        definitions = KINDS[body["actorType"]][3]
        if body["name"] not in definitions:
            raise problems.bad_request(f"name: no {body['actorType']} named {body['name']!r}")
        flat = specs.flatten_oauth(body["configuration"])
        # The connector's complete_oauth_server_input_specification: exactly these strings.
        wanted = specs.OAUTH_SERVER_INPUT.get(body["name"], ())
        if set(flat) != set(wanted) or not all(isinstance(flat[k], str) and flat[k]
                                               for k in wanted):
            raise problems.bad_request(
                f"configuration: must hold {list(wanted)} as strings (the connector's "
                f"complete_oauth_server_input_specification), got {sorted(flat)}")
        with store.lock:
            get_or_404(store, store.workspaces, wid, "workspace")
            store.oauth_params[(wid, body["actorType"], body["name"])] = flat
        return "", 200

    # ---- sources and destinations share everything but names
    for kind in KINDS:
        _register_actor(bp, emu, kind)


def _register_actor(bp, emu, kind: str) -> None:
    store = emu.store
    tname, id_key, type_key, definitions = KINDS[kind]
    table = getattr(store, tname)
    path = f"/{tname}"

    def resolve_type(body: dict) -> str:
        cfg = body["configuration"]
        if body.get("definitionId"):
            for name, did in definitions.items():
                if did == body["definitionId"]:
                    return name
            raise problems.not_found(f"{kind}_definition", body["definitionId"])
        if type_key not in cfg:
            raise problems.unprocessable()
        if cfg[type_key] not in definitions:
            raise problems.unknown_value(str(cfg[type_key]))
        return cfg[type_key]

    def strip_type(cfg: dict) -> dict:
        # Airbyte removes the sourceType/destinationType node before storing the configuration.
        return {k: v for k, v in cfg.items() if k != type_key}

    def list_actors():
        ids, inc = query_list("workspaceIds"), query_bool("includeDeleted")
        with store.lock:
            recs = sorted((r for r in table.values()
                           if (inc or not r["deleted"]) and (not ids or r["workspaceId"] in ids)
                           and store.listed(r)),
                          key=lambda r: r["_seq"])
        extra = {"includeDeleted": str(inc).lower(), **({"workspaceIds": ",".join(ids)} if ids else {})}
        return jsonify(page(recs, lambda r: render_actor(kind, r), path, extra))

    def create_actor():
        body = json_body({"name": "str", "workspaceId": "uuid", "configuration": "obj",
                          "definitionId": "uuid", "secretId": "str", "resourceAllocation": "obj"},
                         ("name", "workspaceId", "configuration"))
        actor_type = resolve_type(body)
        cfg = strip_type(body["configuration"])
        specs.validate(actor_type, cfg)
        with store.lock:
            get_or_404(store, store.workspaces, body["workspaceId"], "workspace")
            rec = store.stamp({id_key: store.new_id(), "name": body["name"], "type": actor_type,
                               "definitionId": definitions[actor_type],
                               "workspaceId": body["workspaceId"], "configuration": cfg})
            table[rec[id_key]] = rec
            emu.note_create(kind, rec)
            return jsonify(render_actor(kind, rec))

    def get_actor(rid):
        with store.lock:
            return jsonify(render_actor(kind, get_or_404(store, table, rid, kind)))

    def update_actor(rid, replace: bool):
        body = json_body({"name": "str", "configuration": "obj", "workspaceId": "uuid",
                          "secretId": "str", "resourceAllocation": "obj"},
                         ("name", "configuration") if replace else ())
        with store.lock:
            rec = get_or_404(store, table, rid, kind)
            cfg = rec["configuration"]
            if body.get("configuration") is not None:
                new = strip_type(body["configuration"])
                cfg = specs.unmask_put(cfg, new) if replace else specs.merge_except_secrets(cfg, new)
                specs.validate(rec["type"], cfg)
            rec["configuration"] = cfg
            if body.get("name") is not None:
                rec["name"] = body["name"]
            return jsonify(render_actor(kind, rec))

    def delete_actor(rid):
        with store.lock:
            get_or_404(store, table, rid, kind)["deleted"] = True
            delete_connections_of(store, id_key, rid)
        return "", 204

    bp.add_url_rule(path, f"list_{tname}", list_actors, methods=["GET"])
    bp.add_url_rule(path, f"create_{kind}", create_actor, methods=["POST"])
    bp.add_url_rule(f"{path}/<rid>", f"get_{kind}", get_actor, methods=["GET"])
    bp.add_url_rule(f"{path}/<rid>", f"patch_{kind}", lambda rid: update_actor(rid, False),
                    methods=["PATCH"])
    bp.add_url_rule(f"{path}/<rid>", f"put_{kind}", lambda rid: update_actor(rid, True),
                    methods=["PUT"])
    bp.add_url_rule(f"{path}/<rid>", f"delete_{kind}", delete_actor, methods=["DELETE"])
