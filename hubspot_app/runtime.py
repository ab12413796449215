"""The one place the app is put together: `Services`, built once per container.

A Lambda execution environment runs many events one after another; what is worth keeping
between them lives on one `Services` object instead of in module-level caches across the
package: the frozen settings, the AWS clients, queue URLs, the secrets (for a few minutes, so a
rotation is picked up without a redeploy), the Airbyte and HubSpot OAuth clients, the ids of
the shared Airbyte resources, the journal's app token and the token endpoint's rate limiter.
The pynamodb tables are bound to the stage's names once, when the object is built.

AWS clients are created on first use, so each function's cold start pays only for the
clients it calls. boto3 itself is imported with this module: every function that loads it
creates a client in its first event anyway, and so bench/cold_start.py's import measurement
still counts it (the data page, which needs no AWS, does not load this module). Domain code
takes a `Services` (or the one client it needs) as an argument; handler adapters
(hubspot_app.handlers) get this container's from `services()`.
Tests build their own with fakes: `Services(settings, clients={"sqs": fake})`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from hubspot_app.airbyte.client import AirbyteClient
    from hubspot_app.config import Settings
    from hubspot_app.hubspot_oauth import HubSpotOAuthClient
    from hubspot_app.messaging.rate_limit import RateLimiter
    from hubspot_app.secrets_store import AppCredentials

# The AWS services the functions call (their IAM policies allow no others).
AWS_SERVICES = ("sqs", "s3", "glue", "kms", "sns", "secretsmanager")
SECRET_SECONDS = 300          # a rotated secret is read again within five minutes
AIRBYTE_CLIENT_SECONDS = 300  # the Airbyte client follows its secret's rotation likewise
SHARED_ID_SECONDS = 300       # shared Airbyte ids: a deleted workspace is noticed this soon


class Expiring:
    """A dict whose entries are forgotten `seconds` after they were put."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds, self._clock = seconds, clock
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        found = self._items.get(key)
        if found is None or self._clock() - found[0] >= self.seconds:
            return None
        return found[1]

    def put(self, key: str, value: Any) -> Any:
        self._items[key] = (self._clock(), value)
        return value

    def clear(self) -> None:
        self._items.clear()


def _boto3_client(service: str) -> Any:
    return boto3.client(service)


class Services:
    """Settings, clients and per-container state of one stage (see the module docstring)."""

    def __init__(self, settings: Settings, *, clients: Mapping[str, Any] | None = None,
                 client_factory: Callable[[str], Any] | None = None,
                 queue_urls: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic, bind_tables: bool = True):
        """`clients`: given clients by service name (tests: fakes), the others created with
        `client_factory` (boto3.client) at first use; `queue_urls`: URLs already known by queue
        name (not asked of SQS)."""
        self.settings = settings
        self._clients: dict[str, Any] = dict(clients or {})
        self._client_factory = client_factory or _boto3_client
        self._lock = threading.Lock()  # the worker functions check accounts in threads
        self._queue_urls: dict[str, str] = dict(queue_urls or {})
        self._secrets = Expiring(SECRET_SECONDS, clock)
        self._airbyte = Expiring(AIRBYTE_CLIENT_SECONDS, clock)
        self._oauth: HubSpotOAuthClient | None = None
        self._limiter: RateLimiter | None = None
        self._journal_bound = False
        # Per-container state of the domain code, kept here so one reset forgets it all.
        self.shared_ids = Expiring(SHARED_ID_SECONDS, clock)  # lifecycle.provisioner
        self.app_tokens: dict[str, tuple[str, float]] = {}   # lifecycle.journal: token, expiry
        if bind_tables:
            self._bind_tables()

    # -- AWS -------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """The service's client, created at its first use in this container."""
        if service not in AWS_SERVICES:
            raise ValueError(f"{service!r} is not one of the app's AWS services {AWS_SERVICES}")
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._client_factory(service)
            return self._clients[service]

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def glue(self) -> Any:
        return self.client("glue")

    @property
    def kms(self) -> Any:
        return self.client("kms")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    @property
    def secretsmanager(self) -> Any:
        return self.client("secretsmanager")

    def lazy_client(self, service: str) -> LazyClient:
        """The service's client for code that may not call it at all (an uninstall without a
        lake purge): created at its first method call, not when handed over."""
        return LazyClient(self, service)

    def queue_url(self, queue_name: str) -> str:
        """A queue's URL, asked of SQS once per container (names are fixed per stage)."""
        if queue_name not in self._queue_urls:
            url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            self._queue_urls[queue_name] = url
        return self._queue_urls[queue_name]

    # -- secrets ---------------------------------------------------------------------------
    def secret_json(self, secret_name: str, secret_keys: tuple[str, ...] = ()) -> dict:
        """The secret's JSON object, read again after SECRET_SECONDS; the values of
        `secret_keys` are masked in every log line."""
        from hubspot_app.secrets_store import read_secret_json

        cached = self._secrets.get(secret_name)
        if cached is not None:
            return cached
        return self._secrets.put(secret_name,
                                 read_secret_json(self.secretsmanager, secret_name, secret_keys))

    def app_credentials(self) -> AppCredentials:
        """The HubSpot app's client id and secret (APP_SECRET_NAME)."""
        from hubspot_app.secrets_store import app_credentials

        name = self.settings.hubspot.app_secret_name
        return app_credentials(name, self.secret_json(name, secret_keys=("client_secret",)))

    # -- HubSpot and Airbyte ---------------------------------------------------------------
    def hubspot_oauth(self) -> HubSpotOAuthClient:
        """HubSpot's OAuth client with the app's current credentials; its HTTP session (and
        connections) is reused until the credentials change."""
        from hubspot_app.hubspot_oauth import HubSpotOAuthClient

        creds = self.app_credentials()
        if self._oauth is None or self._oauth.credentials != creds:
            s = self.settings
            self._oauth = HubSpotOAuthClient(s.hubspot.api_url, creds, s.hubspot.token_api,
                                             s.hubspot.v1_fallback, s.hubspot.http_timeout_seconds)
        return self._oauth

    def airbyte_configured(self) -> bool:
        return bool(self.settings.airbyte.secret_name)

    def airbyte(self) -> AirbyteClient:
        """The stage's Airbyte client (its access token is reused until near its expiry)."""
        from hubspot_app.airbyte.client import client_from_secret

        s = self.settings
        cached = self._airbyte.get("client")
        if cached is not None:
            return cached
        return self._airbyte.put("client", client_from_secret(
            s, self.secret_json(s.airbyte.secret_name, secret_keys=("client_secret", "api_token"))
            if s.airbyte.secret_name else None))

    def alert(self, event: str, hub_id: int | None, severity: str, summary: str, action: str,
              **details: Any) -> Any:
        """An operator alert to the stage's SNS topic and chat webhook (hubspot_app.alerts)."""
        from hubspot_app.alerts import send_alert

        a = self.settings.alerts
        return send_alert(event, hub_id, severity, summary, action, topic_arn=a.topic_arn,
                          webhook_secret_name=a.webhook_secret_name, stage=self.settings.stage,
                          sns=self.lazy_client("sns"), secret_json=self.secret_json, **details)

    def limiter(self, per_second: float) -> RateLimiter:
        """The token endpoint's limiter, shared by every check in the container."""
        from hubspot_app.messaging.rate_limit import RateLimiter

        with self._lock:
            if self._limiter is None or self._limiter.per_second != per_second:
                self._limiter = RateLimiter(per_second)
            return self._limiter

    # -- tables ----------------------------------------------------------------------------
    def _bind_tables(self) -> None:
        """Point the models at this stage's tables, once; `reconnect`: a new Services is a new
        view of AWS (in tests and the local stack, another endpoint)."""
        from hubspot_app.models import bind_health_tables, bind_shared_table, bind_tables

        s = self.settings
        bind_tables(s.accounts_table, s.states_table, reconnect=True)
        bind_health_tables(s.lifecycle.audit_table, s.lifecycle.webhook_receipts_table,
                           reconnect=True)
        if s.airbyte.resources_table:
            bind_shared_table(s.airbyte.resources_table, reconnect=True)

    def bind_journal_table(self) -> None:
        """The journal poller's position table (its model lives with the poller, which only
        that function imports)."""
        if not self._journal_bound:
            from hubspot_app.lifecycle.journal import bind_journal_table

            bind_journal_table(self.settings.lifecycle.journal_position_table, reconnect=True)
            self._journal_bound = True


class LazyClient:
    """Stands for one of Services' AWS clients until a method of it is called."""

    def __init__(self, svc: Services, service: str):
        self._svc, self._service = svc, service

    def __getattr__(self, name: str) -> Any:
        return getattr(self._svc.client(self._service), name)


_current: Services | None = None
_current_lock = threading.Lock()


def services() -> Services:
    """This container's Services, built at the first call. A new one only when the settings
    were reset (config.reset_settings: tests and the local stack change the environment)."""
    global _current
    from hubspot_app.config import get_settings

    settings = get_settings()
    with _current_lock:
        if _current is None or _current.settings is not settings:
            _current = Services(settings)
        return _current


def use_services(instance: Services) -> Services:
    """Make `instance` this container's Services (tests: one with fakes). Its settings must be
    get_settings()'s, or the next services() call builds a new one."""
    global _current
    with _current_lock:
        _current = instance
    return instance


def forget_services() -> None:
    """The next services() call builds a new one (tests, the local stack)."""
    global _current
    with _current_lock:
        _current = None
