"""DynamoDB tables (pynamodb): the accounts, and the one-time OAuth states.

Table names come from stage config: `bind_tables` points the models at them before use.
"""
from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model


def utcnow() -> datetime:
    return datetime.now(UTC)


class AccountStatus:
    INSTALLED = "installed"        # stored, provision message sent
    PROVISIONING = "provisioning"  # provisioner is creating Airbyte resources
    ACTIVE = "active"              # has its source and connection
    NEEDS_REAUTH = "needs_reauth"  # token refused; the customer must re-install
    UNINSTALLED = "uninstalled"
    PROVISIONING_FAILED = "provisioning_failed"  # permanent error; message in the DLQ
    ALL = (INSTALLED, PROVISIONING, ACTIVE, NEEDS_REAUTH, UNINSTALLED, PROVISIONING_FAILED)


class ProvisionEvent(MapAttribute):
    """One step of an account's provisioning history (newest last; capped by the provisioner)."""

    at = UTCDateTimeAttribute()
    event = UnicodeAttribute()                # queued, provisioned, updated, retrying, failed, ...
    detail = UnicodeAttribute(null=True)      # what changed or what failed (never a secret)
    message_id = UnicodeAttribute(null=True)  # SQS message id
    receive_count = NumberAttribute(null=True)


class Account(Model):
    """One item per HubSpot account (hub_id), whatever how often it installs."""

    class Meta:
        table_name = "accounts"  # replaced by bind_tables()

    hub_id = NumberAttribute(hash_key=True)
    user = UnicodeAttribute(null=True)              # email of the installing user (optional in HubSpot's introspection)
    user_id = NumberAttribute(null=True)
    hub_domain = UnicodeAttribute(null=True)
    scopes = ListAttribute(of=UnicodeAttribute, default=list)
    status = UnicodeAttribute(default=AccountStatus.INSTALLED)
    refresh_token_encrypted = UnicodeAttribute()    # see token_crypto: never plaintext
    install_count = NumberAttribute(default=0)
    # Airbyte (filled by the provisioner)
    airbyte_workspace_id = UnicodeAttribute(null=True)
    airbyte_source_id = UnicodeAttribute(null=True)
    airbyte_connection_id = UnicodeAttribute(null=True)
    # Provisioning bookkeeping (hubspot_app.lifecycle.provisioner): a lease so one worker at a time acts
    # for the account, "create intended" marks so a retry after a crash looks the resource up by
    # name before creating it, and what was last pushed to Airbyte.
    airbyte_destination_id = UnicodeAttribute(null=True)
    airbyte_source_intent_at = UTCDateTimeAttribute(null=True)
    airbyte_connection_intent_at = UTCDateTimeAttribute(null=True)
    airbyte_config_hash = UnicodeAttribute(null=True)        # settings last applied
    airbyte_token_fingerprint = UnicodeAttribute(null=True)  # hash of the encrypted token pushed
    airbyte_streams = ListAttribute(of=UnicodeAttribute, null=True)  # "name:mode" last applied
    provision_lease_owner = UnicodeAttribute(null=True)
    provision_lease_until = UTCDateTimeAttribute(null=True)
    provision_error = UnicodeAttribute(null=True)            # last failure, for operators
    provision_attempts = NumberAttribute(default=0)
    provisioned_at = UTCDateTimeAttribute(null=True)
    provisioning_history = ListAttribute(of=ProvisionEvent, default=list)
    # Token health (filled by the scheduled check)
    token_checked_at = UTCDateTimeAttribute(null=True)
    token_health = UnicodeAttribute(null=True)
    # Token health and offboarding (hubspot_app.lifecycle.token_health, hubspot_app.lifecycle.uninstall)
    token_failures = NumberAttribute(null=True)          # consecutive failed checks
    token_error = UnicodeAttribute(null=True)            # HubSpot's code for the last failure
    token_ok_at = UTCDateTimeAttribute(null=True)        # last successful refresh
    last_sync_at = UTCDateTimeAttribute(null=True)       # last successful Airbyte sync
    open_alerts = ListAttribute(of=UnicodeAttribute, null=True)  # "token", "sync": sent, not yet recovered
    paused_by_health = BooleanAttribute(null=True)       # we paused the connection (so we resume it)
    token_broken_at = UTCDateTimeAttribute(null=True)
    uninstalled_at = UTCDateTimeAttribute(null=True)
    # The association-label reader (hubspot_app.associations): its last outcome (complete,
    # token_revoked, token_undecryptable), when, and the snapshot it concerned.
    labels_outcome = UnicodeAttribute(null=True)
    labels_at = UTCDateTimeAttribute(null=True)
    labels_snapshot_id = UnicodeAttribute(null=True)
    # Times
    created_at = UTCDateTimeAttribute(default=utcnow)
    installed_at = UTCDateTimeAttribute(default=utcnow)
    updated_at = UTCDateTimeAttribute(default=utcnow)


class OAuthState(Model):
    """The mark that an install `state` was used: written once, at the callback, by a conditional
    put (hubspot_app.install). `/install` stores nothing; the state itself travels signed in the
    browser's cookie. DynamoDB's TTL removes a mark once its state has expired anyway."""

    class Meta:
        table_name = "oauth-states"  # replaced by bind_tables()

    state = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()
    created_at = UTCDateTimeAttribute(default=utcnow)


def condition_failed(exc: Exception) -> bool:
    """A conditional write was refused because its condition did not hold (someone else won)."""
    return getattr(exc, "cause_response_code", "") == "ConditionalCheckFailedException"


def lease_is_free(owner_attr, until_attr, owner: str, now: datetime):
    """The one lease rule for items guarded by an owner and an expiry (the account's
    provisioning lease, the journal position's): nobody holds it, the holder's time ran out,
    or we hold it already. Use it as the condition of the write that takes the lease."""
    return owner_attr.does_not_exist() | (until_attr < now) | (owner_attr == owner)


def bind_tables(accounts_table: str, states_table: str, reconnect: bool = False) -> None:
    """Point the models at the stage's tables (`reconnect` after the endpoint changed)."""
    for model, name in ((Account, accounts_table), (OAuthState, states_table)):
        if reconnect or model.Meta.table_name != name:
            model.Meta.table_name = name
            model._connection = None  # pynamodb caches table name and endpoint per model


class SharedResource(Model):
    """An Airbyte resource shared by many accounts (the workspace, the S3 destination): its id,
    and the lease and create-intent marks that make sure it is created once."""

    class Meta:
        table_name = "airbyte-resources"  # replaced by bind_shared_table()

    key = UnicodeAttribute(hash_key=True)          # "workspace:<name>", "destination:<workspace>"
    resource_id = UnicodeAttribute(null=True)
    lease_owner = UnicodeAttribute(null=True)
    lease_until = UTCDateTimeAttribute(null=True)
    intent_at = UTCDateTimeAttribute(null=True)
    # "oauth:<workspace>": a fingerprint of the client id and a hash of the secret last set
    # as the workspace's OAuth override (never the secret itself).
    fingerprint = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(default=utcnow)


def bind_shared_table(name: str, reconnect: bool = False) -> None:
    if reconnect or SharedResource.Meta.table_name != name:
        SharedResource.Meta.table_name = name
        SharedResource._connection = None


class UninstallAudit(Model):
    """What an uninstall did, kept after the account's data is gone: no e-mail, no domain, no
    token; hub_id is the account's HubSpot id, which operators need to answer "what happened"."""

    class Meta:
        table_name = "uninstall-audit"  # replaced by bind_health_tables()

    hub_id = NumberAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)          # ISO time of the uninstall
    source = UnicodeAttribute()                    # webhook, health_check, operator
    reason = UnicodeAttribute(null=True)
    steps = ListAttribute(of=UnicodeAttribute, default=list)   # e.g. "connection_deleted"
    purged_objects = NumberAttribute(default=0)
    stage = UnicodeAttribute(null=True)


class WebhookReceipt(Model):
    """A HubSpot webhook signature already accepted (replay protection); TTL removes it."""

    class Meta:
        table_name = "webhook-receipts"  # replaced by bind_health_tables()

    key = UnicodeAttribute(hash_key=True)          # sha256 of timestamp and signature
    expires_at = TTLAttribute()


def bind_health_tables(audit_table: str, receipts_table: str, reconnect: bool = False) -> None:
    for model, name in ((UninstallAudit, audit_table), (WebhookReceipt, receipts_table)):
        if name and (reconnect or model.Meta.table_name != name):
            model.Meta.table_name = name
            model._connection = None

