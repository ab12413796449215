"""Deterministic synthetic CRM data per account.

Records are not materialized: record `index` of a type has id `base_id + index`, and its values
come from a PRNG seeded by (account, type, index, version), so an account of 200,000 records
costs a few arrays; only changed records (updates, deletes) are stored.
"""
import bisect
import random
import threading
import zlib
from datetime import UTC, datetime

from .schema import (
    ASSOCIATIONS,
    CUSTOM_OBJECT_COMMON,
    CUSTOM_OBJECT_POOL,
    CUSTOM_TYPES,
    MAX_GOAL_TARGETS,
    OBJECTS,
    STAGE_PROPERTIES,
    canonical,
)

CACHE_RECORDS = 20_000                # generated property dicts kept per object type
EPOCH_MS = 1_640_995_200_000          # 2022-01-01: generated data spans three years from here
SPAN_MS = 3 * 365 * 86_400_000
DAY_MS = 86_400_000
# How long after creation a record's first version was last edited: a deal moves through its
# pipeline over weeks (its stage history spans this window), other records are edited once.
EDIT_WINDOW_MS = {"deals": (DAY_MS, 60 * DAY_MS)}      # (at least, spread over)
HISTORY_SKIP = {"hs_lastmodifieddate"}   # the connector drops it from property history
_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Linus", "Margaret", "Donald",
          "Frances", "John", "Radia", "Tim", "Katherine", "Dennis", "Hedy"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Torvalds",
         "Hamilton", "Knuth", "Allen", "McCarthy", "Perlman", "Berners-Lee", "Johnson"]
_CITIES = ["Boston", "Dublin", "Berlin", "Paris", "Tokyo", "Sydney", "Toronto", "Austin"]
_COUNTRIES = ["United States", "Ireland", "Germany", "France", "Japan", "Australia", "Canada"]
_WORDS = ["quarterly", "review", "renewal", "follow", "up", "demo", "pricing", "contract",
          "onboarding", "support", "upgrade", "meeting", "call", "proposal", "invoice"]
_CUSTOM_WORDS = ["tier", "region", "score", "segment", "source", "budget", "priority", "plan"]


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{ms % 1000:03d}Z"


class PropertyDef:
    __slots__ = ("name", "type", "field_type", "gen", "label", "group", "custom", "added_ms",
                 "options")

    def __init__(self, name, type_, field_type, gen, custom=False, added_ms=0, group=None):
        self.name, self.type, self.field_type, self.gen = name, type_, field_type, gen
        self.custom, self.added_ms = custom, added_ms
        self.label = name.replace("_", " ").title()
        self.group = group or ("custom_properties" if custom else "information")
        self.options = gen[5:].split(",") if gen.startswith("enum:") else (
            ["true", "false"] if type_ == "bool" else [])

    def v2(self) -> dict:
        """The legacy /properties/v2 shape the connector reads."""
        return {"name": self.name, "label": self.label, "description": "", "groupName": self.group,
                "type": self.type, "fieldType": self.field_type, "hidden": False,
                "calculated": False, "externalOptions": False, "deleted": False,
                "hubspotDefined": not self.custom, "formField": True, "displayOrder": -1,
                "readOnlyValue": self.gen in ("id", "created", "updated"),
                "readOnlyDefinition": not self.custom, "mutableDefinitionNotDeletable": False,
                "favorited": False, "createdAt": self.added_ms or EPOCH_MS, "updatedAt": None,
                "options": [{"label": o.title(), "value": o, "displayOrder": i, "hidden": False,
                             "description": "", "readOnly": False}
                            for i, o in enumerate(self.options)]}

    def v3(self) -> dict:
        return {"name": self.name, "label": self.label, "type": self.type,
                "fieldType": self.field_type, "description": "", "groupName": self.group,
                "options": [{"label": o.title(), "value": o, "displayOrder": i, "hidden": False}
                            for i, o in enumerate(self.options)],
                "displayOrder": -1, "calculated": False, "externalOptionsReferenceType": "",
                "hasUniqueValue": self.gen == "id", "hidden": False,
                "hubspotDefined": not self.custom, "formField": True,
                "createdAt": iso_ms(self.added_ms or EPOCH_MS),
                "updatedAt": iso_ms(self.added_ms or EPOCH_MS), "archived": False,
                "modificationMetadata": {"archivable": self.custom, "readOnlyDefinition": not self.custom,
                                         "readOnlyValue": self.gen in ("id", "created", "updated")}}


def _history_entry(value, at_ms: int, owner: dict, created: bool) -> dict:
    if created:
        return {"value": value, "timestamp": iso_ms(at_ms), "sourceType": "CRM_UI",
                "sourceId": f"userId:{owner['userId']}", "updatedByUserId": owner["userId"]}
    return {"value": value, "timestamp": iso_ms(at_ms), "sourceType": "CRM_UI",
            "sourceId": f"userId:{owner['userId']}", "sourceLabel": "CRM UI",
            "updatedByUserId": owner["userId"]}


def _value(p: PropertyDef, rng: random.Random, rec_id: int, created: int, updated: int, st):
    g = p.gen
    if g == "id":
        return str(rec_id)
    if g == "created":
        return iso_ms(created)
    if g == "updated":
        return iso_ms(updated)
    if g.startswith("enum:"):
        return rng.choice(p.options)
    if g == "first_name":
        return rng.choice(_FIRST)
    if g == "last_name":
        return rng.choice(_LAST)
    if g == "email":
        return f"{rng.choice(_FIRST).lower()}.{rec_id}@{st.domain}"
    if g in ("phone", "phone_number"):
        return f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
    if g == "city":
        return rng.choice(_CITIES)
    if g == "country":
        return rng.choice(_COUNTRIES)
    if g == "company":
        return f"{rng.choice(_LAST)} {rng.choice(['Inc', 'LLC', 'GmbH', 'Ltd'])}"
    if g == "domain":
        return f"{rng.choice(_LAST).lower()}{rec_id}.example.com"
    if g == "deal":
        return f"{rng.choice(_LAST)} {rng.choice(_WORDS)} deal"
    if g == "product":
        return f"{rng.choice(_WORDS).title()} plan"
    if g == "sku":
        return f"SKU-{rec_id}"
    if g == "sentence" or g == "string":
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(3, 8)))
    if g == "money":
        return f"{rng.randrange(100, 100000)}.{rng.randrange(0, 100):02d}"
    if g.startswith("int:"):
        lo, hi = g[4:].split(":")
        return str(rng.randrange(int(lo), int(hi)))
    if g == "number":
        return str(rng.randrange(0, 1000))
    if g == "datetime":
        return iso_ms(EPOCH_MS + rng.randrange(SPAN_MS))
    if g == "date":
        return iso_ms(EPOCH_MS + rng.randrange(SPAN_MS) // 86_400_000 * 86_400_000)[:10]
    if g == "bool":
        return rng.choice(("true", "false"))
    if g in ("period_start", "period_end"):      # a goal's month, from its creation day
        start = created // 86_400_000 * 86_400_000
        return iso_ms(start if g == "period_start" else start + 30 * 86_400_000 - 1)
    if g == "split_share":      # the splits of a deal share it equally (sum 1.0)
        n_deals, n_splits = st.base_counts["deals"], st.base_counts["deal_splits"]
        i = (rec_id - 101) % 100_000_000
        if not n_deals or i >= n_splits:
            return "1.0"
        return str(round(1 / len(range(i % n_deals, n_splits, n_deals)), 4))
    if g == "owner":
        return str(st.owner_ids[rng.randrange(len(st.owner_ids))])
    return None


class ObjectTable:
    """One object type of one account. `custom` is the schema metadata of a custom object
    (None for HubSpot's own types)."""

    def __init__(self, store, name: str, type_index: int, count: int, spec=None, custom=None):
        self.store, self.name, self.custom = store, name, custom
        self.type_id, self.cursor_property, std = spec or OBJECTS[name]
        self.base_id = 101 + type_index * 100_000_000
        self.name_hash = zlib.crc32(name.encode()) & 0xFFFF   # stable across processes
        self.count = count                  # records ever created (indices 0..count-1)
        self.updated = {}                   # index -> (updated_ms, version)
        self.version_ms = {}                # index -> [ms of version 1, 2, ...] (property history)
        self.edit_min_ms, self.edit_window_ms = EDIT_WINDOW_MS.get(name, (0, DAY_MS))
        self.archived = {}                  # index -> archived_ms
        self.indexed_ms = {}                # index -> ms when its current version became searchable
        rng = random.Random(f"props:{store.key}:{name}")
        self.properties = [PropertyDef(*p) for p in std]
        for ptype, ftype in CUSTOM_TYPES:   # per-account custom property of each type
            pname = f"{rng.choice(_CUSTOM_WORDS)}_{ptype}_{rng.randrange(100, 999)}"
            gen = {"string": "string", "number": "number", "date": "date", "datetime": "datetime",
                   "enumeration": "enum:gold,silver,bronze", "bool": "bool",
                   "phone_number": "phone_number"}[ptype]
            self.properties.append(PropertyDef(pname, ptype, ftype, gen, custom=True))
        self.by_name = {p.name: p for p in self.properties}
        self._cache = {}                    # index -> (version, n_props, properties dict)
        self.version = 0                    # bumped by every change (search caches key on it)
        self._upd_index = None              # sorted [(updated_ms, index)], built on first search
        self.search_cache = {}              # query key -> (version, valid_until_ms, hits)

    # -- search index: every record ever created, sorted by last-modified ----------------------
    def upd_index(self) -> list:
        if self._upd_index is None:
            self._upd_index = sorted((self.updated_ms(i), i) for i in range(self.count))
        return self._upd_index

    def _reindex(self, i: int, old_ms):
        idx = self._upd_index
        if idx is None:
            return
        if old_ms is not None:
            k = bisect.bisect_left(idx, (old_ms, i))
            if k < len(idx) and idx[k] == (old_ms, i):
                del idx[k]
        bisect.insort(idx, (self.updated_ms(i), i))

    # -- identity and time ------------------------------------------------------------------
    def index_of(self, rec_id) -> int | None:
        try:
            i = int(rec_id) - self.base_id
        except (TypeError, ValueError):
            return None
        return i if 0 <= i < self.count else None

    def created_ms(self, i: int) -> int:
        if i >= self.store.base_counts[self.name]:
            return self.store.created_at[(self.name, i)]
        # spread over the span, increasing with index, deterministic per account
        return EPOCH_MS + (i * SPAN_MS) // max(1, self.store.base_counts[self.name]) + (i * 7919) % 60_000

    def updated_ms(self, i: int) -> int:
        u = self.updated.get(i)
        if u is not None:
            return u[0]
        return self.base_updated_ms(i)

    def base_updated_ms(self, i: int) -> int:
        """When version 0 (the record as created, or as the seed has it) was last edited."""
        c = self.created_ms(i)
        if i >= self.store.base_counts[self.name]:
            return c
        return c + self.edit_min_ms + (i * 104_729) % self.edit_window_ms

    def live(self, i: int) -> bool:
        return i not in self.archived

    # -- records ------------------------------------------------------------------------------
    def all_properties(self, i: int) -> dict:
        version = self.updated.get(i, (0, 0))[1]
        hit = self._cache.get(i)
        if hit is not None and hit[0] == version and hit[1] == len(self.properties):
            return hit[2]
        props = self.properties_at(i, version)
        if len(self._cache) >= CACHE_RECORDS:      # bounded: a 200,000-record sync passes through
            self._cache.clear()
        self._cache[i] = (version, len(self.properties), props)
        return props

    def version_updated_ms(self, i: int, version: int) -> int:
        return self.base_updated_ms(i) if version == 0 else self.version_ms[i][version - 1]

    def properties_at(self, i: int, version: int) -> dict:
        """The record's properties as they were at `version` (0 = as created by the seed)."""
        rec_id = self.base_id + i
        created, updated = self.created_ms(i), self.version_updated_ms(i, version)
        rng = random.Random((self.store.key_int << 48) ^ (self.name_hash << 32) ^ (i << 8) ^ version)
        props = {}
        for p in self.properties:
            # a property added later has no value until the record changes after it
            props[p.name] = _value(p, rng, rec_id, created, updated, self.store) \
                if updated >= p.added_ms else None
        return props

    def history(self, i: int, names) -> dict:
        """propertiesWithHistory of record i: for each asked property that has a value, its
        values newest first (HubSpot's ValueWithTimestamp: value, timestamp, sourceType, ...).
        Version 0 sets every property at creation, except stage properties, which walk the
        pipeline between creation and the first version's last edit; each later version adds
        an entry for every property whose value it changed."""
        owner = self.store.owners[(i * 31) % len(self.store.owners)]
        n_versions = self.updated.get(i, (0, 0))[1]
        versions = [self.properties_at(i, v) for v in range(n_versions + 1)]
        created, first_edit = self.created_ms(i), self.base_updated_ms(i)
        out = {}
        for name in names:
            p = self.by_name.get(name)
            if p is None:
                continue
            entries = []
            if versions[0].get(name) is not None:
                path = self._stage_path(p, versions[0][name], i)
                for k, value in enumerate(path):
                    at = first_edit if p.gen == "updated" else \
                        created + max(k, (first_edit - created) * k // len(path))
                    entries.append(_history_entry(value, at, owner, k == 0))
            for v in range(1, n_versions + 1):
                value = versions[v].get(name)
                if value is not None and value != versions[v - 1].get(name):
                    entries.append(_history_entry(value, self.version_updated_ms(i, v), owner, False))
            if entries:
                out[name] = entries[::-1]
        return out

    def _stage_path(self, p, value, i: int) -> list:
        lost = STAGE_PROPERTIES.get(p.name)
        if lost is None or value not in p.options:
            return [value]
        open_stages = [o for o in p.options if o not in lost]
        if value in lost:        # lost from one of the open stages before the won stage
            reached = 1 + (i * 7) % max(1, len(open_stages) - 1)
            return open_stages[:reached] + [value]
        return open_stages[:open_stages.index(value) + 1]

    def history_rows(self, names=None, deleted: bool = False) -> int:
        """How many property-history records the connector makes of the live records (with
        `deleted`, of the deleted ones too: what reads before their deletion returned)."""
        names = [p.name for p in self.properties if p.name not in HISTORY_SKIP] \
            if names is None else names
        return sum(len(h) for i in range(self.count) if deleted or self.live(i)
                   for h in self.history(i, names).values())

    def record(self, i: int, names=None, archived=False, history=None) -> dict:
        allp = self.all_properties(i)
        if names is None:
            props = {k: allp[k] for k in self.default_names()}
        else:
            props = {k: allp[k] for k in names if k in allp}
        for k in ("createdate", "hs_object_id", self.cursor_property):
            if k in allp:
                props[k] = allp[k]
        out = {"id": str(self.base_id + i), "properties": props,
               "createdAt": iso_ms(self.created_ms(i)), "updatedAt": iso_ms(self.updated_ms(i)),
               "archived": archived}
        if archived:
            out["archivedAt"] = iso_ms(self.archived[i])
        if history:
            out["propertiesWithHistory"] = self.history(i, history)
        return out

    def default_names(self):
        return [p.name for p in self.properties[:3]]

    def counts(self) -> dict:
        return {"live": self.count - len(self.archived), "deleted": len(self.archived)}

    # -- associations (index rule: child i -> parent i % n_parent_base) -----------------------
    def associated(self, i: int, other: "ObjectTable") -> list:
        parents = self.store.parents
        if other.name in parents.get(self.name, ()):            # self is the child
            n = self.store.base_counts[other.name]
            if not n:
                return []
            j = i % n
            return [j] if other.live(j) else []
        if self.name in parents.get(other.name, ()):            # self is the parent
            n = self.store.base_counts[self.name]
            if i >= n:
                return []
            return [j for j in range(i, other.count, n) if other.live(j)]
        return []


class AccountStore:
    """All CRM data of one account (and its marketing datasets, see marketing_data)."""

    def __init__(self, seed: int, hub_id: int, domain: str, records_per_object,
                 search_lag_seconds: float = 0.0, ordinal: int | None = None):
        """ordinal: the account's position in the sandbox (makes neighbours' custom objects
        differ); records_per_object: int, or {type or custom object name or "custom": n}."""
        from .marketing_data import MarketingData
        self.key = f"{seed}:{hub_id}"
        self.key_int = (seed * 1_000_003) ^ hub_id
        self.hub_id, self.domain = hub_id, domain
        self.lock = threading.RLock()
        self.search_lag_ms = int(search_lag_seconds * 1000)
        self.change_batches = 0
        rng = random.Random(f"owners:{self.key}")
        self.owner_ids = [rng.randrange(10_000_000, 99_999_999) for _ in range(5)]
        def owner(k, o, archived):
            out = {"id": str(o), "email": f"{_FIRST[k].lower()}@{domain}", "type": "PERSON",
                   "firstName": _FIRST[k], "lastName": _LAST[k],
                   "userId": o + 1, "userIdIncludingInactive": o + 1,
                   "createdAt": iso_ms(EPOCH_MS + k * 86_400_000),
                   "updatedAt": iso_ms(EPOCH_MS + k * 86_400_000 + 3600_000),
                   "archived": archived, "teams": []}
            if archived:      # a user who left: deactivated a year in
                out["updatedAt"] = iso_ms(EPOCH_MS + 365 * 86_400_000 + k * 86_400_000)
            return out
        self.owners = [owner(k, o, False) for k, o in enumerate(self.owner_ids)]
        # Owners who left (GET /crm/v3/owners?archived=true); records keep the live owners.
        self.archived_owners = [owner(len(self.owner_ids) + k, rng.randrange(10_000_000, 99_999_999), True)
                                for k in range(2)]
        sizes = records_per_object if isinstance(records_per_object, dict) else {}
        default = records_per_object if isinstance(records_per_object, int) else 50
        self.size = int(sizes.get("contacts", default))      # scales the marketing datasets
        self.base_counts = {name: int(sizes.get(name, default)) for name in OBJECTS}
        if "goal_targets" not in sizes:
            self.base_counts["goal_targets"] = min(self.base_counts["goal_targets"], MAX_GOAL_TARGETS)
        if "deal_splits" not in sizes:    # half of the deals split between two owners
            self.base_counts["deal_splits"] = self.base_counts["deals"] * 3 // 2
        self.created_at = {}
        self.parents = {k: list(v) for k, v in ASSOCIATIONS.items()}
        self.tables = {name: ObjectTable(self, name, k, self.base_counts[name])
                       for k, name in enumerate(OBJECTS)}
        self.aliases = {}                 # custom object names, ids, fullyQualifiedNames -> name
        self.schemas = []                 # /crm/v3/schemas results
        self._add_custom_objects(seed, sizes, default,
                                 hub_id if ordinal is None else ordinal)
        self.marketing = MarketingData(self)

    # -- custom objects -------------------------------------------------------------------------
    def _add_custom_objects(self, seed, sizes, default, ordinal):
        rng = random.Random(f"custom-objects:{self.key}")
        pool = sorted(CUSTOM_OBJECT_POOL)
        offset = zlib.crc32(f"custom:{seed}".encode()) % len(pool)
        how_many = 1 + (ordinal + seed) % 2
        names = [pool[(2 * ordinal + offset + j) % len(pool)] for j in range(how_many)]
        created_ms = EPOCH_MS + rng.randrange(365) * 86_400_000
        for name in names:
            label, props = CUSTOM_OBJECT_POOL[name]
            type_id = f"2-{rng.randrange(1_000_000, 60_000_000)}"
            fqn = f"p{self.hub_id}_{name}"
            spec = (type_id, "hs_lastmodifieddate",
                    [(p[0], p[1], p[2], p[3]) for p in props] + CUSTOM_OBJECT_COMMON
                    + [("hs_object_id", "number", "number", "id"),
                       ("hubspot_owner_id", "enumeration", "select", "owner")])
            count = int(sizes.get(name, sizes.get("custom", default)))
            self.base_counts[name] = count
            meta = {"name": name, "label": label, "objectTypeId": type_id,
                    "fullyQualifiedName": fqn, "created_ms": created_ms}
            t = ObjectTable(self, name, len(self.tables), count, spec=spec, custom=meta)
            for p in t.properties:            # every property of a custom object is the portal's
                p.custom = p.custom or not p.name.startswith("hs_")
            self.tables[name] = t
            self.parents[name] = ["contacts"]
            for alias in (name, type_id, fqn, f"p_{name}", label.lower()):
                self.aliases[alias] = name
            self.schemas.append(self._schema(t, meta))

    def _schema(self, t, meta) -> dict:
        """One custom object schema in the shape of GET /crm/v3/schemas."""
        ts = iso_ms(meta["created_ms"])
        primary = t.properties[0].name
        contacts = self.tables["contacts"]
        return {"id": meta["objectTypeId"][2:], "name": meta["name"],
                "labels": {"singular": meta["label"], "plural": meta["label"] + "s"},
                "objectTypeId": meta["objectTypeId"],
                "fullyQualifiedName": meta["fullyQualifiedName"],
                "primaryDisplayProperty": primary, "requiredProperties": [primary],
                "searchableProperties": [primary], "secondaryDisplayProperties": [],
                "description": f"{meta['label']}s tracked by this portal",
                "metaType": "PORTAL_SPECIFIC", "portalId": self.hub_id,
                "createdAt": ts, "updatedAt": ts, "archived": False,
                "createdByUserId": self.owners[0]["userId"],
                "updatedByUserId": self.owners[0]["userId"],
                "allowsSensitiveProperties": False,
                "associations": [{"id": str(k), "name": f"{meta['name']}_to_contact",
                                  "fromObjectTypeId": meta["objectTypeId"],
                                  "toObjectTypeId": contacts.type_id,
                                  "createdAt": ts, "updatedAt": ts}
                                 for k in [self.assoc_type_id(t, contacts)]],
                "properties": [p.v3() for p in t.properties]}

    def schema_of(self, name) -> dict | None:
        for sch in self.schemas:
            if sch["name"] == name:
                return sch
        return None

    def resolve(self, object_type: str):
        """The table for a path's object type: HubSpot's names, singulars and type ids, or a
        custom object's name, p_name, objectTypeId or fullyQualifiedName."""
        name = canonical(object_type) or self.aliases.get(object_type) \
            or self.aliases.get(str(object_type).lower())
        return self.tables.get(name) if name else None

    def assoc_type_id(self, a, b) -> int:
        from .schema import ASSOCIATION_TYPE_IDS
        if (a.name, b.name) in ASSOCIATION_TYPE_IDS:
            return ASSOCIATION_TYPE_IDS[(a.name, b.name)]
        if a.custom or b.custom:          # portal-defined: stable ids above HubSpot's own
            return 1000 + zlib.crc32(f"{a.type_id}>{b.type_id}".encode()) % 9000
        return 0

    def association_types(self, a, i: int, b, j: int) -> list:
        """The v4 `associationTypes` of the association from record i of table a to record j of
        table b (schema.PRIMARY_TYPES, USER_LABELS): the unlabelled HubSpot-defined type, the
        primary one where HubSpot has it, then the
        portal's labels on some pairs (deterministic: every Nth child record)."""
        from .schema import PRIMARY_LABEL, PRIMARY_TYPES, USER_LABELS
        key = (a.name, b.name)
        if key in PRIMARY_TYPES:
            primary, unlabelled = PRIMARY_TYPES[key]
            # A child record has one parent here, so that parent is its primary (both ways).
            types = [{"category": "HUBSPOT_DEFINED", "typeId": unlabelled},
                     {"category": "HUBSPOT_DEFINED", "typeId": primary, "label": PRIMARY_LABEL}]
        else:
            types = [{"category": "HUBSPOT_DEFINED", "typeId": self.assoc_type_id(a, b)}]
        child = i if b.name in self.parents.get(a.name, ()) else j
        for type_id, label, every in USER_LABELS.get(key, ()):
            if child % every == 0:
                types.append({"category": "USER_DEFINED", "typeId": type_id, "label": label})
        return types

    def counts(self) -> dict:
        return {name: t.counts() for name, t in self.tables.items()}

    def apply_changes(self, now_ms: int, spec: dict) -> dict:
        """spec: {object type: {"creates": n, "updates": n, "deletes": n, "properties": n}};
        marketing datasets (forms, campaigns, marketing_emails, email_events) take the same
        keys where they make sense (see marketing_data)."""
        out = {}
        with self.lock:
            self.change_batches += 1
            for name, ch in spec.items():
                if name in self.marketing.sets:
                    out[name] = self.marketing.apply(name, now_ms, ch, self.change_batches)
                    continue
                t = self.tables[name]
                t.version += 1
                t.search_cache.clear()
                rng = random.Random(f"changes:{self.key}:{name}:{self.change_batches}")
                res = {"created": [], "updated": [], "deleted": [], "properties": []}
                for _ in range(int(ch.get("properties", 0))):
                    ptype, ftype = CUSTOM_TYPES[rng.randrange(len(CUSTOM_TYPES))]
                    pname = f"added_{ptype}_{self.change_batches}_{len(t.properties)}"
                    gen = "enum:red,green,blue" if ptype == "enumeration" else ptype
                    t.properties.append(PropertyDef(pname, ptype, ftype, gen, custom=True,
                                                    added_ms=now_ms))
                    t.by_name[pname] = t.properties[-1]
                    res["properties"].append(pname)
                if res["properties"] and t.custom is not None:
                    sch = self.schema_of(name)
                    sch["properties"] = [p.v3() for p in t.properties]
                    sch["updatedAt"] = iso_ms(now_ms)
                live = [i for i in range(t.count) if t.live(i)]
                for i in rng.sample(live, min(int(ch.get("deletes", 0)), len(live))):
                    t.archived[i] = now_ms
                    res["deleted"].append(str(t.base_id + i))
                live = [i for i in range(t.count) if t.live(i)]
                for i in rng.sample(live, min(int(ch.get("updates", 0)), len(live))):
                    old = t.updated_ms(i)
                    t.updated[i] = (now_ms, t.updated.get(i, (0, 0))[1] + 1)
                    t.version_ms.setdefault(i, []).append(now_ms)
                    t.indexed_ms[i] = now_ms + self.search_lag_ms
                    t._reindex(i, old)
                    res["updated"].append(str(t.base_id + i))
                for _ in range(int(ch.get("creates", 0))):
                    i = t.count
                    self.created_at[(name, i)] = now_ms
                    t.indexed_ms[i] = now_ms + self.search_lag_ms
                    t.count += 1
                    t._reindex(i, None)
                    res["created"].append(str(t.base_id + i))
                out[name] = res
        return out
