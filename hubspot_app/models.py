"""DynamoDB tables (pynamodb): the accounts, and the one-time OAuth states.

Table names come from stage config: `bind_tables` points the models at them before use.
"""
from __future__ import annotations

from datetime import datetime, timezone

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AccountStatus:
    INSTALLED = "installed"        # stored, provision message sent
    PROVISIONING = "provisioning"  # provisioner is creating Airbyte resources
    ACTIVE = "active"              # has its source and connection
    NEEDS_REAUTH = "needs_reauth"  # token refused; the customer must re-install
    UNINSTALLED = "uninstalled"
    ALL = (INSTALLED, PROVISIONING, ACTIVE, NEEDS_REAUTH, UNINSTALLED)


class Account(Model):
    """One item per HubSpot account (hub_id), whatever how often it installs."""

    class Meta:
        table_name = "accounts"  # replaced by bind_tables()

    hub_id = NumberAttribute(hash_key=True)
    user = UnicodeAttribute()                       # email of the installing user
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
    # Token health (filled by the scheduled check)
    token_checked_at = UTCDateTimeAttribute(null=True)
    token_health = UnicodeAttribute(null=True)
    # Times
    created_at = UTCDateTimeAttribute(default=utcnow)
    installed_at = UTCDateTimeAttribute(default=utcnow)
    updated_at = UTCDateTimeAttribute(default=utcnow)


class OAuthState(Model):
    """A one-time `state` for one browser's install attempt; DynamoDB's TTL removes stale ones."""

    class Meta:
        table_name = "oauth-states"  # replaced by bind_tables()

    state = UnicodeAttribute(hash_key=True)
    browser_hash = UnicodeAttribute()   # sha256 of the browser's cookie nonce, not the nonce
    code_verifier = UnicodeAttribute()  # PKCE verifier, needed once at the callback
    expires_at = TTLAttribute()
    used = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute(default=utcnow)


def bind_tables(accounts_table: str, states_table: str, reconnect: bool = False) -> None:
    """Point the models at the stage's tables (`reconnect` after the endpoint changed)."""
    for model, name in ((Account, accounts_table), (OAuthState, states_table)):
        if reconnect or model.Meta.table_name != name:
            model.Meta.table_name = name
            model._connection = None  # pynamodb caches table name and endpoint per model
