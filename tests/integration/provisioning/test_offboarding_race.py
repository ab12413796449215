"""Offboarding while a provisioning run is in flight (issue 13): the run holds the account's
lease between its Airbyte creates and its last DynamoDB write when the account uninstalls.
Whatever the interleaving, once offboarding is done the account is `uninstalled` with no
Airbyte ids, and Airbyte holds no source or connection for it: the run never writes `active`
and a connection id back. The emulator's own store is the ground truth; the pause is an
injected wait inside the provisioning thread, so nothing here depends on timing."""
from __future__ import annotations

import threading

import pytest

from hubspot_app.errors import Transient
from hubspot_app.lifecycle import provisioner
from hubspot_app.models import AccountStatus
from hubspot_app.runtime import services

WAIT = 60  # seconds a step may take before the test gives up (never reached when it works)


class Paused:
    """Wrap `provisioner.<name>`: the provisioning thread stops in it until released."""

    def __init__(self, monkeypatch, name: str, after: bool):
        self.reached, self.release = threading.Event(), threading.Event()
        original = getattr(provisioner, name)

        def wrapper(*args, **kwargs):
            if not after:
                self._pause()
            result = original(*args, **kwargs)
            if after:
                self._pause()
            return result
        monkeypatch.setattr(provisioner, name, wrapper)

    def _pause(self) -> None:
        self.reached.set()
        assert self.release.wait(WAIT), "the test never released the provisioning run"


def _uninstaller():
    from hubspot_app.handlers.lifecycle import lifecycle_parts

    return lifecycle_parts().uninstaller()


def _provision_until_paused(hub: int, pause: Paused) -> tuple[threading.Thread, dict]:
    """A provisioning run in a thread, returned once it reached the paused step; `outcome`
    gets its result or its error (reported in the test's thread)."""
    outcome: dict = {}

    def provisioning_run() -> None:
        try:
            outcome["result"] = provisioner.provision(services(), hub, owner="race-run")
        except BaseException as exc:  # noqa: BLE001 - a thread's failure is reported in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=provisioning_run, daemon=True)
    thread.start()
    assert pause.reached.wait(WAIT), outcome.get("error")
    return thread, outcome


# after=True on start_first_sync: source and connection created in Airbyte, the source id
# recorded, the connection id and `active` not yet written. after=False on ensure_workspace:
# the lease is taken, nothing created yet.
@pytest.mark.parametrize(("hub", "name", "after"), [
    (7001, "start_first_sync", True),
    (7002, "ensure_workspace", False),
])
def test_uninstall_during_provisioning_leaves_nothing_behind(harness, monkeypatch, hub, name,
                                                             after):
    harness.install(hub, send=False)
    pause = Paused(monkeypatch, name, after)
    thread, outcome = _provision_until_paused(hub, pause)

    # The uninstall arrives while the run holds the lease. It may finish now or ask to come
    # back later (a Transient, as the lifecycle queue would retry it); either is fine.
    uninstaller = _uninstaller()
    try:
        first = uninstaller.uninstall(hub, source="journal", reason="race", purge=False)
    except Transient:
        first = None
    assert harness.account(hub).status == AccountStatus.UNINSTALLED

    pause.release.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    # The run ended without writing `active` over the uninstall.
    account = harness.account(hub)
    assert account.status == AccountStatus.UNINSTALLED, (account.status, outcome)
    assert account.provision_lease_owner is None

    # The retried uninstall (the queue's next receive) completes it.
    report = first if first is not None and first.done else \
        uninstaller.uninstall(hub, source="journal", reason="race", purge=False)
    assert report.done, report.steps

    account = harness.account(hub)
    assert account.status == AccountStatus.UNINSTALLED
    assert account.airbyte_connection_id is None and account.airbyte_source_id is None
    assert account.refresh_token_encrypted is None
    assert harness.live("connections", hub) == []
    assert harness.live("sources", hub) == []
    # A late provision message for it changes nothing.
    assert provisioner.provision(services(), hub).result == "skipped"
    assert harness.live("connections", hub) == [] and harness.live("sources", hub) == []


def test_health_check_offboarding_during_provisioning_finishes_through_the_queue(
        harness, configured, monkeypatch):
    """A token refused for longer than TOKEN_BROKEN_UNINSTALL_AFTER_DAYS offboards the account
    from inside the check. While a provisioning run holds the lease the check cannot finish
    it, and no later check would (the account is uninstalled by then): the uninstall goes to
    the lifecycle queue, whose worker finishes it once the run let go."""
    from dataclasses import replace
    from datetime import timedelta

    from hubspot_app.handlers.lifecycle import lifecycle_parts
    from hubspot_app.models import Account, utcnow
    from local_stack.dispatcher import SqsRoute

    hub = 7003
    with configured(UNINSTALL_PURGE_S3="false"):
        # The sandbox refuses this made-up refresh token: broken, for three days already.
        harness.install(hub, send=False)
        harness.account(hub).update(actions=[
            Account.token_broken_at.set(utcnow() - timedelta(days=3)),
            Account.open_alerts.set(["token"])])
        pause = Paused(monkeypatch, "start_first_sync", after=True)
        thread, outcome = _provision_until_paused(hub, pause)

        rt = lifecycle_parts()
        checker = rt.checker(health=replace(rt.health, uninstall_after_days=1),
                             sleep=lambda s: None, alert=lambda *a, **k: None)
        result = checker.check(hub, force=True)
        assert (result.outcome, result.events) == ("broken", ["uninstall_queued"])
        assert harness.account(hub).status == AccountStatus.UNINSTALLED

        pause.release.set()
        thread.join(WAIT)
        assert not thread.is_alive()
        assert outcome["result"].result == "superseded", outcome
        assert harness.account(hub).status == AccountStatus.UNINSTALLED

        worker = SqsRoute(harness.client, harness.env["LIFECYCLE_QUEUE_NAME"],
                          "lifecycle_worker")
        worker.run_until_idle(timeout=WAIT)
        account = harness.account(hub)
        assert account.status == AccountStatus.UNINSTALLED
        assert account.airbyte_connection_id is None and account.airbyte_source_id is None
        assert account.refresh_token_encrypted is None
        assert harness.live("connections", hub) == [] and harness.live("sources", hub) == []
