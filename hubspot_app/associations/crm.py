"""The two HubSpot calls the association reader makes, rate-limited and classified.

- `list_ids`: `GET /crm/v3/objects/{objectType}?limit=100&after=...` (CRM v3 objects list; the
  vendored tests/contracts/hubspot/<object>-v3.json). No `properties` asked for: HubSpot then
  answers a few default ones, which are ignored. HubSpot pages at most 100 records per call
  (CRM objects guide, "Retrieve records", https://developers.hubspot.com/docs/api/crm/understanding-the-crm).
- `batch_read`: `POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read` with at
  most 1,000 inputs (HubSpot changelog 2025-02-10, "Bug Fix: Batch Read Limit for HubSpot
  Associations API": larger bodies are refused); a result with `paging.next.after` has more
  associations for that id, read by sending `{"id", "after"}` again (associations-v4.json,
  the operation's description). 207 answers (some ids gone meanwhile) keep their results.

Rate limits: a public app gets 110 requests per 10 seconds per installing account, shared by
every caller with that account's tokens (HubSpot's API usage guidelines,
https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details), here Airbyte's syncs
too: the reader keeps to ASSOCIATION_LABELS_REQUESTS_PER_SECOND (4: 40 per 10 s) with the one
client-side limiter (messaging/rate_limit.py). A 429 stops every call for its Retry-After (or
10 s, the window) and is retried in process a few times; then the step fails transiently and
the queue brings it back later. HubSpot answers 403 `MISSING_SCOPES` for an object type the
token cannot read: `MissingScopes`, the pair is skipped.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from hubspot_app import logs
from hubspot_app.errors import Permanent, Transient
from hubspot_app.messaging.rate_limit import RateLimiter

log = logging.getLogger(__name__)

LIST_PAGE_MAX = 100          # CRM v3 objects list: records per page
BATCH_READ_MAX = 1000        # v4 associations batch read: inputs per request
RATE_WINDOW_SECONDS = 10.0   # HubSpot's rolling window; the wait after a 429 without Retry-After
RETRIES = 4                  # in-process retries of a 429, a 5xx or a dropped connection


class MissingScopes(Exception):
    """HubSpot refused the call for the token's scopes (403 MISSING_SCOPES)."""


class AccessRefused(Transient):
    """HubSpot refused the access token (401) that was just refreshed: the next delivery
    refreshes again, and a revoked install then shows as a refused refresh token."""


class HubSpotCrm:
    def __init__(self, api_url: str, access_token: str, *, limiter: RateLimiter,
                 timeout: float = 10.0, session: Any = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.api_url = api_url.rstrip("/")
        self._token = access_token
        logs.register_secret(access_token)
        self.limiter, self.timeout, self.sleep = limiter, timeout, sleep
        self.session = session or requests.Session()
        self.calls = 0
        self.rate_limited = 0

    # -- the two calls ---------------------------------------------------------------------
    def list_ids(self, object_type: str, after: str | None, limit: int = LIST_PAGE_MAX
                 ) -> tuple[list[str], str | None]:
        """One page of live record ids and the next page's cursor (None: the last page)."""
        params: dict[str, Any] = {"limit": min(limit, LIST_PAGE_MAX), "archived": "false"}
        if after:
            params["after"] = after
        body = self._call("GET", f"/crm/v3/objects/{object_type}", params=params)
        ids = [str(r["id"]) for r in body.get("results") or []]
        nxt = ((body.get("paging") or {}).get("next") or {}).get("after")
        return ids, (str(nxt) if nxt else None)

    def batch_read(self, from_type: str, to_type: str, ids: list[str]) -> list[tuple[str, dict]]:
        """[(from id, {toObjectId, associationTypes})] for every association of `ids`, each
        id's associations paged through to the end, in HubSpot's order."""
        if len(ids) > BATCH_READ_MAX:
            raise ValueError(f"at most {BATCH_READ_MAX} ids per batch read")
        found: dict[str, list[dict]] = {i: [] for i in ids}
        inputs: list[dict] = [{"id": i} for i in ids]
        path = f"/crm/v4/associations/{from_type}/{to_type}/batch/read"
        while inputs:
            body = self._call("POST", path, json={"inputs": inputs})
            inputs = []
            for result in body.get("results") or []:
                rid = str((result.get("from") or {}).get("id"))
                found.setdefault(rid, []).extend(result.get("to") or [])
                after = (((result.get("paging") or {}).get("next") or {}).get("after"))
                if after:
                    inputs.append({"id": rid, "after": str(after)})
        return [(rid, to) for rid in found for to in found[rid]]

    # -- HTTP --------------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> dict:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        for attempt in range(RETRIES + 1):
            self.limiter.acquire()
            self.calls += 1
            try:
                r = self.session.request(method, self.api_url + path, headers=headers,
                                         timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                if attempt < RETRIES:
                    self.sleep(min(8.0, 0.5 * 2 ** attempt))
                    continue
                raise Transient(f"HubSpot unreachable ({type(exc).__name__})") from None
            if r.status_code < 300:
                return r.json()
            if r.status_code == 429:
                self.rate_limited += 1
                wait = _retry_after(r) or RATE_WINDOW_SECONDS
                self.limiter.cool_down(wait)
                logs.log_event(log, "HubSpot rate limit reached", logging.WARNING, path=path,
                               retry_after=wait, attempt=attempt + 1)
                if attempt < RETRIES:
                    continue
                raise Transient("HubSpot kept answering 429", delay=max(wait, RATE_WINDOW_SECONDS))
            if r.status_code >= 500:
                if attempt < RETRIES:
                    self.sleep(min(8.0, 0.5 * 2 ** attempt))
                    continue
                raise Transient(f"HubSpot answered {r.status_code}")
            category = _category(r)
            if r.status_code == 403 and category == "MISSING_SCOPES":
                raise MissingScopes(path)
            if r.status_code == 401:
                raise AccessRefused(f"HubSpot refused the access token ({category or 401})")
            raise Permanent(f"HubSpot answered {r.status_code} {category} for {method} {path}")
        raise AssertionError("unreachable")


def _retry_after(r: Any) -> float | None:
    raw = r.headers.get("Retry-After") if r.headers else None
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


def _category(r: Any) -> str:
    try:
        body = r.json()
    except ValueError:
        return ""
    return str(body.get("category") or "") if isinstance(body, dict) else ""
