"""One error tree for the pipeline: `PipelineError` -> `Transient` / `Permanent` (-> `NotFound`).

Record handlers on every queue raise these (hubspot_app.messaging decides from the class alone:
a transient error comes back later with the retry policy's delay, a permanent one goes to the
dead-letter queue at once). The older, more specific classes (AirbyteTransientError,
ProvisionFailed, HubSpotUnavailable, ...) subclass the matching branch, so existing `except`
clauses keep working and the consumer needs no list of them.

`kind` is what the dead-letter writer records as the message's `error_kind` attribute.
"""
from __future__ import annotations


class PipelineError(Exception):
    kind = "error"

    @property
    def reason(self) -> str:
        return str(self) or type(self).__name__


class Transient(PipelineError):
    """Worth trying again later. `delay`: seconds to wait, when the cause says (Retry-After, a
    lease's end); None lets the queue's retry policy choose."""

    kind = "transient"
    delay: float | None = None

    def __init__(self, reason: str = "", delay: float | None = None):
        super().__init__(reason)
        if delay is not None:
            self.delay = delay


class Permanent(PipelineError):
    """Retrying cannot help; someone must fix data or configuration, then redrive."""

    kind = "permanent"

    def __init__(self, reason: str = "", kind: str | None = None):
        super().__init__(reason)
        if kind:
            self.kind = kind


class NotFound(Permanent):
    kind = "not_found"


# The poison-message kinds (issue 15.5): each ends in its queue's DLQ once, with this kind.
MALFORMED, UNKNOWN_ACCOUNT, OVERSIZED = "malformed", "unknown_account", "oversized"


def malformed(reason: str) -> Permanent:
    return Permanent(f"malformed message: {reason}", kind=MALFORMED)


def unknown_account(hub_id: int) -> Permanent:
    return Permanent(f"no account with hub_id {hub_id}", kind=UNKNOWN_ACCOUNT)
