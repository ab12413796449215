"""Which of the streams the connector discovers a connection syncs, and in which sync mode.

`AIRBYTE_STREAMS` is a rule, not a list of streams: empty = every stream Airbyte discovers for
the account's source (what its granted scopes allow, custom objects included); `-name` items
exclude streams from that; plain `name` / `name:sync_mode` items sync only those. Pure
functions, no imports from the app: config.py checks the rule when settings load.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# ConnectionSyncModeEnum (airbyte-platform, airbyte-api/server-api/src/main/openapi/api.yaml).
SYNC_MODES = ("full_refresh_overwrite", "full_refresh_overwrite_deduped", "full_refresh_append",
              "full_refresh_update", "full_refresh_soft_delete", "incremental_append",
              "incremental_deduped_history", "incremental_update", "incremental_soft_delete")
# Best first, among what destination-s3 supports (S3V2SpecificationExtension: OVERWRITE and
# APPEND only, no dedup): incremental where the stream has a cursor (the curated layer dedupes
# on the primary key), else a full refresh that replaces the previous one.
PREFERRED_MODES = ("incremental_append", "full_refresh_overwrite", "full_refresh_append")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class StreamRuleError(ValueError):
    """AIRBYTE_STREAMS cannot be understood; the message says how to fix it."""


@dataclass(frozen=True)
class StreamRule:
    include: dict[str, str | None] = field(default_factory=dict)  # name -> mode (None = best)
    exclude: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        """True when streams the connector discovers later (a new custom object, a scope
        granted on re-install) belong in the connection too."""
        return not self.include

    def canonical(self) -> str:
        """Stable text of the rule (for the settings hash)."""
        if self.include:
            return " ".join(f"{n}:{m}" if m else n for n, m in sorted(self.include.items()))
        return " ".join(f"-{n}" for n in sorted(self.exclude)) or "*"

    def allows(self, name: str) -> bool:
        return name in self.include if self.include else name not in self.exclude


def parse_rule(items) -> StreamRule:
    include: dict[str, str | None] = {}
    exclude: set[str] = set()
    for item in items:
        neg = item.startswith("-")
        name, _, mode = item[1 if neg else 0:].partition(":")
        if not _NAME.match(name):
            raise StreamRuleError(f"AIRBYTE_STREAMS item {item!r}: a stream name is letters, "
                                  f"digits and underscores (e.g. contacts, -email_events, "
                                  f"deals:incremental_append)")
        if neg and mode:
            raise StreamRuleError(f"AIRBYTE_STREAMS item {item!r}: an exclusion takes no sync "
                                  f"mode (write -{name})")
        if mode and mode not in SYNC_MODES:
            raise StreamRuleError(f"AIRBYTE_STREAMS item {item!r}: {mode!r} is not an Airbyte "
                                  f"sync mode ({', '.join(SYNC_MODES)})")
        if name in include or name in exclude:
            raise StreamRuleError(f"AIRBYTE_STREAMS names {name!r} twice")
        if neg:
            exclude.add(name)
        else:
            include[name] = mode or None
    if include and exclude:
        raise StreamRuleError("AIRBYTE_STREAMS mixes streams to sync with -exclusions: list "
                              "either the streams to sync, or only -exclusions (empty = all)")
    return StreamRule(include, frozenset(exclude))


def best_mode(sync_modes) -> str | None:
    for mode in PREFERRED_MODES:
        if mode in (sync_modes or ()):
            return mode
    return None


@dataclass
class Selection:
    streams: list[dict]           # StreamConfiguration items: {"name", "syncMode"}
    not_discovered: list[str]     # named by the rule, not discovered (scope not granted?)


def select(rule: StreamRule, properties: list[dict]) -> Selection:
    """The connection's streams from Airbyte's stream properties (`GET /streams` with the
    destination, so `syncModes` is what source and destination both support). Raises
    StreamRuleError when a named mode is not possible for its stream."""
    found = {p["streamName"]: p for p in properties if p.get("streamName")}
    out = []
    for name in sorted(found):
        if not rule.allows(name):
            continue
        modes = found[name].get("syncModes") or []
        mode = rule.include.get(name) or best_mode(modes)
        if mode is None or mode not in modes:
            raise StreamRuleError(f"stream {name}: sync mode {mode or 'none'} is not possible "
                                  f"(Airbyte offers {', '.join(modes) or 'none'}); fix "
                                  f"AIRBYTE_STREAMS")
        out.append({"name": name, "syncMode": mode})
    return Selection(out, sorted(n for n in rule.include if n not in found))


def streams_diff(actual: list[dict], wanted: list[dict]) -> str | None:
    """How a connection's streams differ from the wanted ones, briefly; None when they agree."""
    have = {str(s.get("name")): s.get("syncMode") for s in actual}
    want = {str(s.get("name")): s.get("syncMode") for s in wanted}
    parts = []
    for label, names in (("missing", sorted(set(want) - set(have))),
                         ("not wanted", sorted(set(have) - set(want))),
                         ("other mode", sorted(n for n in set(have) & set(want)
                                               if have[n] != want[n]))):
        if names:
            shown = ", ".join(names[:5]) + (f" (+{len(names) - 5})" if len(names) > 5 else "")
            parts.append(f"{label}: {shown}")
    return "; ".join(parts) or None
