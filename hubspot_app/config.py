"""The one settings object, read from environment variables only, here and nowhere else.

`.chalice/config.json` sets these per stage (local, dev, prod); nothing differs between
stages in code. Secrets are *names* here (Secrets Manager ids), never values. `get_settings()`
reads them once per container (frozen; `reset_settings()` for tests) and checks them on load:
a missing required value or an enum-like value outside its choices stops with the fix.

Sections: the HubSpot app, the AWS resources and Airbyte provisioning are the top-level fields
(prefixed `hubspot_`, `airbyte_`/`provision_`/`reconcile_`, `lake_`); `lifecycle` (token
health, uninstalls, the webhooks journal), `glue` (the Glue job and its trigger) and `alerts`
are nested. `event_sources()` is what app.py's decorators need when Chalice loads the app.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise RuntimeError(
            f"Environment variable {name} is not set. Set it in .chalice/config.json for this "
            f"stage (see README, 'Settings')."
        )
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """An enum-like setting: a typo must stop the function with the fix, not pick a behaviour."""
    value = os.environ.get(name) or default
    if value not in choices:
        raise RuntimeError(f"{name}={value!r} is not one of {', '.join(choices)}: fix it in "
                           f".chalice/config.json for this stage (see README, 'Settings').")
    return value


def _env_number(name: str, default: str, kind: type, what: str):
    raw = _env(name, default)
    try:
        return kind(raw)
    except ValueError:
        raise RuntimeError(f"{name}={raw!r} is not {what}: fix it in .chalice/config.json "
                           "for this stage (see README, 'Settings').") from None


def _env_int(name: str, default: str) -> int:
    return _env_number(name, default, int, "a whole number")


def _env_float(name: str, default: str) -> float:
    return _env_number(name, default, float, "a number")


def _env_list(name: str, default: str) -> tuple[str, ...]:
    return tuple(part for part in os.environ.get(name, default).replace(",", " ").split() if part)


CALLBACK_ROUTE = "/oauth/callback"   # the app's callback route (app.py)


def base_path(redirect_uri: str) -> str:
    """The path the app's routes sit under, from the redirect URI: "/api" for API Gateway's
    stage URL (`https://<id>.execute-api.<region>.amazonaws.com/api/oauth/callback`), "" on a
    custom domain's root. Links and cookies use it so they reach the routes behind the prefix."""
    from urllib.parse import urlsplit

    path = urlsplit(redirect_uri).path.rstrip("/")
    return path[: -len(CALLBACK_ROUTE)] if path.endswith(CALLBACK_ROUTE) else ""


def base_url(redirect_uri: str) -> str:
    """Origin plus `base_path`: where `/install` and `/webhooks/hubspot` are, next to the callback."""
    from urllib.parse import urlsplit

    parts = urlsplit(redirect_uri)
    return f"{parts.scheme}://{parts.netloc}{base_path(redirect_uri)}" if parts.netloc else ""


def _env_streams(name: str) -> tuple[str, ...]:
    """The stream rule, checked now: a typo must not silently sync nothing or everything."""
    from hubspot_app.airbyte.streams import StreamRuleError, parse_rule

    items = _env_list(name, "")
    try:
        parse_rule(items)
    except StreamRuleError as exc:
        raise RuntimeError(f"{exc}. Fix it in .chalice/config.json for this stage (see README, "
                           f"'Settings').") from None
    return items


# -- sections ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LifecycleSettings:
    """Token health, uninstalls, webhooks and the webhooks journal (token_health, uninstall,
    journal, webhooks)."""
    queue_name: str                  # the lifecycle queue (check batches, uninstalls)
    dlq_name: str
    audit_table: str                 # uninstall audit records (no personal data)
    webhook_receipts_table: str      # seen webhook signatures (replay protection, TTL)
    webhook_url: str                 # the public URL HubSpot signs (v3 signatures)
    app_id: str = ""                 # HUBSPOT_APP_ID as set (checked: digits or empty)
    app_id_required: bool = True     # HUBSPOT_APP_ID_REQUIRED
    journal_position_table: str = ""  # the webhooks journal poller's position (hubspot_app.lifecycle.journal)
    journal_lease_seconds: int = 300  # a poller run's lease on the position (>= its timeout)
    journal_max_entries: int = 1000   # journal entries one poller run reads at most
    accounts_per_message: int = 25   # fan-out: hub_ids per SQS message
    refresh_per_second: float = 5.0  # token endpoint calls per second per worker (client side)
    confirm_delay_seconds: float = 2.0   # wait before the confirming second try
    max_transient_retries: int = 3   # re-queues of an account after transient failures
    retry_base_seconds: int = 60     # first re-queue delay; doubles per attempt (max 900)
    min_check_interval_seconds: int = 3600  # skip accounts checked more recently than this
    check_scopes: bool = True        # introspect after refresh: missing required scope = broken
    sync_freshness_hours: float = 26.0   # alert when the last successful sync is older
    reinstall_url: str = ""          # the install link put in "needs re-auth" alerts
    uninstall_after_days: float = 0.0   # broken this long: offboard it (0 = never)
    purge_s3_on_uninstall: bool = False

    @property
    def hubspot_app_id(self) -> str:
        """The app's id: events (webhooks, journal) of other apps are refused by it, so what
        reads them cannot run without it on a deployed stage (HUBSPOT_APP_ID_REQUIRED, "true"
        unless the stage says "false": only the local stage does). Checked where it is used,
        so the functions that never read events run without it."""
        if not self.app_id and self.app_id_required:
            raise RuntimeError("HUBSPOT_APP_ID is empty: a deployed stage needs the HubSpot app's "
                               "numeric id (the app's page in HubSpot's developer account) in "
                               ".chalice/config.json, so events for other apps are refused")
        return self.app_id


GLUE_GROUPINGS = ("global", "account")


@dataclass(frozen=True)
class GlueSettings:
    """The curate job and the trigger that starts it (hubspot_app.glue_trigger)."""
    job_name: str = ""               # empty: no curate runs from this stage (uninstall purges)
    trigger_queue_name: str = ""
    trigger_dlq_name: str = ""
    trigger_queue_url: str = ""      # set by the packaged template; else from the name
    trigger_dlq_url: str = ""
    lake_root: str = ""              # passed as --lake_root when set
    grouping: str = "global"         # one run per batch, or one per account
    max_hubs_per_run: int = 500
    retry_base_seconds: int = 60
    retry_max_seconds: int = 900
    max_attempts: int = 40
    trigger_window_seconds: int = 60  # the SQS batching window (app.py reads event_sources()'s)
    database: str = ""               # the Glue Data Catalog database of the curated tables


@dataclass(frozen=True)
class AlertSettings:
    topic_arn: str = ""              # SNS topic operators subscribe to
    webhook_secret_name: str = ""    # Secrets Manager id of {"url"}: a chat webhook


@dataclass(frozen=True)
class HubSpotSettings:
    """The HubSpot app: OAuth, scopes and the install routes (install, hubspot_oauth)."""
    authorize_url: str
    api_url: str
    token_api: str                  # "2026-03" (default) or "v1"
    v1_fallback: bool               # retry on v1 when the 2026-03 endpoint is missing
    scopes: tuple[str, ...]
    optional_scopes: tuple[str, ...]
    redirect_uri: str
    app_secret_name: str            # Secrets Manager id of {"client_id", "client_secret"}
    state_ttl_seconds: int = 600
    cookie_secure: bool = True
    http_timeout_seconds: float = 10.0

    @property
    def base_path(self) -> str:
        return base_path(self.redirect_uri)


RECONCILE_ACTIONS = ("delete", "pause")


@dataclass(frozen=True)
class ProvisioningSettings:
    """The provision queue, its retries and the account lease (lifecycle.provision_queue,
    lifecycle.provisioner) and the hourly drift repair (lifecycle.reconcile); README,
    "Operating it"."""
    queue_name: str
    dlq_name: str = ""
    max_receives: int = 5
    retry_base_seconds: int = 30      # first retry delay; doubles per receive
    retry_max_seconds: int = 900
    lease_seconds: int = 90           # > the provisioner's Lambda timeout
    reconcile_uninstalled_action: str = "delete"  # one of RECONCILE_ACTIONS
    reconcile_stuck_after_seconds: int = 900


@dataclass(frozen=True)
class AirbyteSettings:
    """Airbyte's API and what each account's resources look like (airbyte.client, airbyte.spec,
    airbyte.streams)."""
    api_url: str = "https://api.airbyte.com/v1"
    secret_name: str = ""   # Secrets Manager id of {"client_id","client_secret"} or {"api_token"}
    workspace_id: str = ""  # empty: find or create the workspace named below
    workspace_name: str = ""
    workspace_per_account: bool = False
    timeout_seconds: float = 20.0
    create_settle_seconds: float = 20.0     # after an ambiguous create, look this long
    discover_timeout_seconds: float = 45.0  # GET /streams may run the connector's discover
    max_requests_per_second: float = 0.0    # per process; 0 = no client-side limit
    streams: tuple[str, ...] = ()           # stream rule (hubspot_app.airbyte.streams): empty = all
    schedule_cron: str = ""                 # Quartz cron, e.g. "0 0 */6 * * ?"; empty = manual
    source_start_date: str = "2024-01-01T00:00:00Z"
    source_options: str = "{}"              # JSON merged into the HubSpot source configuration
    s3_role_arn: str = ""                   # role Airbyte assumes to write the bucket
    destination_id: str = ""                # empty: find or create the shared S3 destination
    resources_table: str = ""               # DynamoDB table of shared Airbyte resource ids


@dataclass(frozen=True)
class LakeSettings:
    """Where raw and curated data live (the S3 destination's path, the purge)."""
    bucket: str = ""
    raw_prefix: str = "raw"
    curated_prefix: str = "curated"
    region: str = "us-east-1"
    snapshot_retention_hours: float = 0.0  # purge runs' --purge_retention_hours; 0: the job's
    maintenance_schedule: str = ""   # the maintenance run's trigger, cron(...) in UTC


@dataclass(frozen=True)
class AssociationSettings:
    """The association-label reader (hubspot_app.associations): its queue, how fast it calls
    HubSpot and how much one chunk holds; README, "Operating it"."""
    queue_name: str = ""
    dlq_name: str = ""
    max_receives: int = 5
    retry_base_seconds: int = 60
    retry_max_seconds: int = 900
    requests_per_second: float = 4.0  # per account (HubSpot: 110 per 10 s, shared with Airbyte)
    ids_per_chunk: int = 1000         # from-ids per chunk: one v4 batch read (at most 1,000)


@dataclass(frozen=True)
class Settings:
    """Everything a function is configured with, by concern. Top level: what every concern
    shares (the stage, the accounts and OAuth-state tables, the refresh tokens' KMS key)."""
    stage: str
    accounts_table: str
    states_table: str
    kms_key_id: str
    hubspot: HubSpotSettings
    provisioning: ProvisioningSettings
    airbyte: AirbyteSettings = field(default_factory=lambda: AirbyteSettings())
    lake: LakeSettings = field(default_factory=lambda: LakeSettings())
    lifecycle: LifecycleSettings = field(default_factory=lambda: LifecycleSettings("", "", "", "", ""))
    glue: GlueSettings = field(default_factory=lambda: GlueSettings())
    alerts: AlertSettings = field(default_factory=lambda: AlertSettings())
    associations: AssociationSettings = field(default_factory=lambda: AssociationSettings())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(
        stage=_env("STAGE", "local"),
        accounts_table=_env("ACCOUNTS_TABLE"),
        states_table=_env("STATES_TABLE"),
        kms_key_id=_env("KMS_KEY_ID"),
        hubspot=_hubspot(), provisioning=_provisioning(), airbyte=_airbyte(), lake=_lake(),
        lifecycle=_lifecycle(), glue=_glue(), alerts=_alerts(), associations=_associations(),
    )


def _hubspot() -> HubSpotSettings:
    return HubSpotSettings(
        authorize_url=_env("HUBSPOT_AUTHORIZE_URL", "https://app.hubspot.com/oauth/authorize"),
        api_url=_env("HUBSPOT_API_URL", "https://api.hubapi.com").rstrip("/"),
        token_api=_env("HUBSPOT_TOKEN_API", "2026-03"),
        v1_fallback=_env_bool("HUBSPOT_V1_FALLBACK", True),
        scopes=_env_list("HUBSPOT_SCOPES", "oauth crm.objects.contacts.read"),
        optional_scopes=_env_list("HUBSPOT_OPTIONAL_SCOPES", ""),
        redirect_uri=_env("HUBSPOT_REDIRECT_URI"),
        app_secret_name=_env("APP_SECRET_NAME"),
        state_ttl_seconds=_env_int("OAUTH_STATE_TTL_SECONDS", "600"),
        cookie_secure=_env_bool("COOKIE_SECURE", True),
        http_timeout_seconds=_env_float("HTTP_TIMEOUT_SECONDS", "10"),
    )


def _provisioning() -> ProvisioningSettings:
    return ProvisioningSettings(
        queue_name=_env("PROVISION_QUEUE_NAME"),
        dlq_name=os.environ.get("PROVISION_DLQ_NAME", ""),
        max_receives=_env_int("PROVISION_MAX_RECEIVES", "5"),
        retry_base_seconds=_env_int("PROVISION_RETRY_BASE_SECONDS", "30"),
        retry_max_seconds=_env_int("PROVISION_RETRY_MAX_SECONDS", "900"),
        lease_seconds=_env_int("PROVISION_LEASE_SECONDS", "90"),
        reconcile_uninstalled_action=_env_choice("RECONCILE_UNINSTALLED_ACTION", "delete",
                                                 RECONCILE_ACTIONS),
        reconcile_stuck_after_seconds=_env_int("RECONCILE_STUCK_AFTER_SECONDS", "900"),
    )


def _airbyte() -> AirbyteSettings:
    return AirbyteSettings(
        api_url=_env("AIRBYTE_API_URL", "https://api.airbyte.com/v1").rstrip("/"),
        secret_name=os.environ.get("AIRBYTE_SECRET_NAME", ""),
        workspace_id=os.environ.get("AIRBYTE_WORKSPACE_ID", ""),
        workspace_name=os.environ.get("AIRBYTE_WORKSPACE_NAME", ""),
        workspace_per_account=_env_bool("AIRBYTE_WORKSPACE_PER_ACCOUNT", False),
        timeout_seconds=_env_float("AIRBYTE_TIMEOUT_SECONDS", "20"),
        create_settle_seconds=_env_float("AIRBYTE_CREATE_SETTLE_SECONDS", "20"),
        discover_timeout_seconds=_env_float("AIRBYTE_DISCOVER_TIMEOUT_SECONDS", "45"),
        max_requests_per_second=_env_float("AIRBYTE_MAX_REQUESTS_PER_SECOND", "0"),
        streams=_env_streams("AIRBYTE_STREAMS"),
        schedule_cron=os.environ.get("AIRBYTE_SCHEDULE_CRON", ""),
        source_start_date=_env("AIRBYTE_SOURCE_START_DATE", "2024-01-01T00:00:00Z"),
        source_options=_env("AIRBYTE_SOURCE_OPTIONS", "{}"),
        s3_role_arn=os.environ.get("AIRBYTE_S3_ROLE_ARN", ""),
        destination_id=os.environ.get("AIRBYTE_DESTINATION_ID", ""),
        resources_table=os.environ.get("AIRBYTE_RESOURCES_TABLE", ""),
    )


def _lake() -> LakeSettings:
    return LakeSettings(
        bucket=os.environ.get("LAKE_BUCKET", ""),
        raw_prefix=_env("LAKE_RAW_PREFIX", "raw").strip("/"),
        curated_prefix=_env("LAKE_CURATED_PREFIX", "curated").strip("/"),
        # Empty: the function's own region. Lambda sets AWS_REGION in every runtime (AWS Lambda
        # Developer Guide, "Defined runtime environment variables",
        # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime);
        # the packaged template fills LAKE_REGION with the stack's region anyway.
        region=(os.environ.get("LAKE_REGION") or os.environ.get("AWS_REGION")
                or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"),
        # Empty: the curate job's own default (glue/curate_job.py, --purge_retention_hours).
        snapshot_retention_hours=_env_float("LAKE_SNAPSHOT_RETENTION_HOURS", "0")
        if os.environ.get("LAKE_SNAPSHOT_RETENTION_HOURS", "").strip() else 0.0,
        maintenance_schedule=os.environ.get("LAKE_MAINTENANCE_SCHEDULE", "").strip(),
    )


def reset_settings() -> None:
    """Forget cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()


def _app_id() -> str:
    """HUBSPOT_APP_ID, checked on load: the app's numeric id, or empty (see
    LifecycleSettings.hubspot_app_id)."""
    value = os.environ.get("HUBSPOT_APP_ID", "").strip()
    if value and not (value.isdigit() and int(value) > 0):
        raise RuntimeError(f"HUBSPOT_APP_ID={value!r} is not the HubSpot app's numeric id: fix it "
                           "in .chalice/config.json for this stage")
    return value


def _lifecycle() -> LifecycleSettings:
    # Defaults next to the callback, keeping its path prefix (API Gateway's stage, e.g. /api).
    origin = base_url(os.environ.get("HUBSPOT_REDIRECT_URI", ""))
    return LifecycleSettings(
        queue_name=_env("LIFECYCLE_QUEUE_NAME"),
        dlq_name=os.environ.get("LIFECYCLE_DLQ_NAME", ""),
        audit_table=_env("UNINSTALL_AUDIT_TABLE"),
        webhook_receipts_table=_env("WEBHOOK_RECEIPTS_TABLE"),
        webhook_url=os.environ.get("HUBSPOT_WEBHOOK_URL") or f"{origin}/webhooks/hubspot",
        app_id=_app_id(), app_id_required=_env_bool("HUBSPOT_APP_ID_REQUIRED", True),
        journal_position_table=os.environ.get("JOURNAL_POSITION_TABLE", ""),
        journal_lease_seconds=_env_int("JOURNAL_LEASE_SECONDS", "300"),
        journal_max_entries=_env_int("JOURNAL_MAX_ENTRIES", "1000"),
        accounts_per_message=_env_int("TOKEN_HEALTH_ACCOUNTS_PER_MESSAGE", "25"),
        refresh_per_second=_env_float("TOKEN_REFRESH_PER_SECOND", "5"),
        confirm_delay_seconds=_env_float("TOKEN_CONFIRM_DELAY_SECONDS", "2"),
        retry_base_seconds=_env_int("TOKEN_HEALTH_RETRY_BASE_SECONDS", "60"),
        max_transient_retries=_env_int("TOKEN_HEALTH_MAX_TRANSIENT_RETRIES", "3"),
        min_check_interval_seconds=_env_int("TOKEN_CHECK_MIN_INTERVAL_SECONDS", "3600"),
        check_scopes=_env_bool("TOKEN_CHECK_SCOPES", True),
        sync_freshness_hours=_env_float("SYNC_FRESHNESS_HOURS", "26"),
        reinstall_url=os.environ.get("REINSTALL_URL") or (f"{origin}/install" if origin else ""),
        uninstall_after_days=_env_float("TOKEN_BROKEN_UNINSTALL_AFTER_DAYS", "0"),
        purge_s3_on_uninstall=_env_bool("UNINSTALL_PURGE_S3", False),
    )


def _glue() -> GlueSettings:
    return GlueSettings(
        job_name=os.environ.get("GLUE_JOB_NAME", ""),
        trigger_queue_name=os.environ.get("GLUE_TRIGGER_QUEUE_NAME", ""),
        trigger_dlq_name=os.environ.get("GLUE_TRIGGER_DLQ_NAME", ""),
        trigger_queue_url=os.environ.get("GLUE_TRIGGER_QUEUE_URL", ""),
        trigger_dlq_url=os.environ.get("GLUE_TRIGGER_DLQ_URL", ""),
        lake_root=os.environ.get("LAKE_ROOT", ""),
        grouping=_env_choice("GLUE_TRIGGER_GROUPING", "global", GLUE_GROUPINGS),
        max_hubs_per_run=_env_int("GLUE_TRIGGER_MAX_HUBS_PER_RUN", "500"),
        retry_base_seconds=_env_int("GLUE_TRIGGER_RETRY_BASE_SECONDS", "60"),
        retry_max_seconds=_env_int("GLUE_TRIGGER_RETRY_MAX_SECONDS", "900"),
        max_attempts=_env_int("GLUE_TRIGGER_MAX_ATTEMPTS", "40"),
        trigger_window_seconds=_env_int("GLUE_TRIGGER_WINDOW_SECONDS", "60"),
        database=os.environ.get("GLUE_DATABASE", ""),
    )


def _associations() -> AssociationSettings:
    return AssociationSettings(
        queue_name=os.environ.get("ASSOCIATION_LABELS_QUEUE_NAME", ""),
        dlq_name=os.environ.get("ASSOCIATION_LABELS_DLQ_NAME", ""),
        max_receives=_env_int("ASSOCIATION_LABELS_MAX_RECEIVES", "5"),
        retry_base_seconds=_env_int("ASSOCIATION_LABELS_RETRY_BASE_SECONDS", "60"),
        retry_max_seconds=_env_int("ASSOCIATION_LABELS_RETRY_MAX_SECONDS", "900"),
        requests_per_second=_env_float("ASSOCIATION_LABELS_REQUESTS_PER_SECOND", "4"),
        ids_per_chunk=min(1000, max(1, _env_int("ASSOCIATION_LABELS_IDS_PER_CHUNK", "1000"))),
    )


def _alerts() -> AlertSettings:
    return AlertSettings(topic_arn=os.environ.get("ALERTS_TOPIC_ARN", ""),
                         webhook_secret_name=os.environ.get("ALERT_WEBHOOK_SECRET_NAME", ""))


def stage_environment(stage: str, config: dict) -> dict[str, str]:
    """The environment variables Chalice gives the functions of `stage`, from the parsed
    .chalice/config.json: the top-level `environment_variables`, then the stage's (Chalice's
    precedence; its function-level overrides are not used here). The one reader of that rule
    for the deploy tooling, the local stack and `ops --stage`."""
    stages = config.get("stages", {})
    if stage not in stages:
        raise KeyError(f"stage {stage!r} is not in .chalice/config.json (stages: {', '.join(sorted(stages))})")
    env = dict(config.get("environment_variables", {}))
    env.update(stages[stage].get("environment_variables", {}))
    return env


@dataclass(frozen=True)
class EventSources:
    """What app.py's decorators read when Chalice loads the app (before any handler runs;
    the defaults only keep the import working without a stage's environment)."""
    provision_queue: str
    lifecycle_queue: str
    glue_trigger_queue: str
    glue_trigger_window_seconds: int
    association_labels_queue: str = "hubspot-pipeline-association-labels"


def event_sources() -> EventSources:
    return EventSources(
        provision_queue=os.environ.get("PROVISION_QUEUE_NAME") or "hubspot-pipeline-provision",
        lifecycle_queue=os.environ.get("LIFECYCLE_QUEUE_NAME") or "hubspot-pipeline-lifecycle",
        glue_trigger_queue=os.environ.get("GLUE_TRIGGER_QUEUE_NAME") or "hubspot-pipeline-glue-trigger",
        glue_trigger_window_seconds=_env_int("GLUE_TRIGGER_WINDOW_SECONDS", "60"),
        association_labels_queue=os.environ.get("ASSOCIATION_LABELS_QUEUE_NAME")
        or "hubspot-pipeline-association-labels")
