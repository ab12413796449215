"""The installers' page (`GET /data`): what data the app takes, where it goes, how often it syncs
and how to remove it, from the settings the functions really run with: the requested scopes
(HUBSPOT_SCOPES / HUBSPOT_OPTIONAL_SCOPES) through hubspot_app.data_catalog, the connection's
schedule the provisioner gives Airbyte (AIRBYTE_SCHEDULE_CRON, airbyte_spec.schedule), the Glue
trigger's batching window and the uninstall's purge setting (UNINSTALL_PURGE_S3)."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from hubspot_app import data_catalog
from hubspot_app.config import Settings
from hubspot_app.pages import DATA_ROUTE, Page, document

# glue/curate_job.py's --purge_hub_ids run expires the snapshots older than
# --purge_retention_hours: the template passes LAKE_SNAPSHOT_RETENTION_HOURS (deploy/infra.py),
# without it the job's default applies (settings.lake.snapshot_retention_hours is then this);
# the maintenance run expires the rest later.
JOB_DEFAULT_RETENTION_HOURS = 0.0


def maintenance_text(expr: str) -> tuple[str, float | None]:
    """LAKE_MAINTENANCE_SCHEDULE, an EventBridge/Glue trigger `cron(min hour dom month dow
    year)` in UTC, in words, and its interval in hours when it is a daily one."""
    expr = expr.strip()
    if not expr:
        return "no scheduled maintenance run", None
    inner = expr[5:-1].split() if expr.startswith("cron(") and expr.endswith(")") else []
    if len(inner) == 6 and inner[0].isdigit() and inner[1].isdigit() \
            and inner[2:5] in (["*", "*", "?"], ["?", "*", "*"]) and inner[5] == "*":
        return f"the daily maintenance run ({int(inner[1]):02d}:{int(inner[0]):02d} UTC)", 24.0
    return f"the maintenance run (<code>{escape(expr)}</code>, UTC)", None


DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def schedule_text(cron: str) -> str:
    """A Quartz cron (`sec min hour day-of-month month day-of-week`, Airbyte evaluates it in
    UTC) in words, for the common shapes; others are shown as written."""
    cron = cron.strip()
    if not cron:
        return "only when an operator starts a sync (the connections have no schedule)"
    parts = cron.split()
    if len(parts) in (6, 7) and parts[0] == "0" and parts[1].isdigit() and parts[3] in ("*", "?") \
            and parts[4] == "*" and parts[5] in ("*", "?") and parts[2:3] != [""]:
        minute, hour = int(parts[1]), parts[2]
        hours: list[int] | None = None
        if hour == "*":
            return f"every hour at minute {minute}"
        if hour.startswith(("*/", "0/")) and hour[2:].isdigit() and int(hour[2:]) > 0:
            step = int(hour[2:])
            hours = list(range(0, 24, step))
            lead = f"every {step} hours" if step > 1 else "every hour"
        elif all(h.isdigit() and int(h) < 24 for h in hour.split(",")):
            hours = [int(h) for h in hour.split(",")]
            lead = "once a day" if len(hours) == 1 else f"{len(hours)} times a day"
        if hours is not None:
            at = ", ".join(f"{h:02d}:{minute:02d}" for h in hours)
            return f"{lead}, at {at} UTC"
    return f"on the schedule <code>{escape(cron)}</code> (Quartz cron, UTC)"


@dataclass(frozen=True)
class Facts:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    schedule: str
    trigger_window_seconds: int
    journal_poll_minutes: int
    purge: bool
    retention_hours: float
    maintenance: str
    maintenance_interval_hours: float | None
    region: str
    database: str
    base: str


def facts(settings: Settings, journal_poll_minutes: int) -> Facts:
    """From the settings the functions run with: the uninstall's purge switch is the one the
    uninstaller reads (UNINSTALL_PURGE_S3), the window the glue_trigger queue's (app.py)."""
    return Facts(settings.hubspot.scopes, settings.hubspot.optional_scopes,
                 schedule_text(settings.airbyte.schedule_cron),
                 settings.glue.trigger_window_seconds, journal_poll_minutes,
                 settings.lifecycle.purge_s3_on_uninstall, settings.lake.snapshot_retention_hours,
                 *maintenance_text(settings.lake.maintenance_schedule), settings.lake.region,
                 settings.glue.database, settings.hubspot.base_path)


def arrival_html(schedule: str, window_seconds: int) -> str:
    """When the data really arrives, for the success page and the data page: provisioning
    starts the first sync at its end (hubspot_app/lifecycle/first_sync.py), the raw files' events reach
    the Glue trigger, which starts the curate run."""
    return ("<ol id=\"arrival\">"
            "<li>Now: your account's HubSpot source and connection are set up in Airbyte "
            "(usually within a minute; retried for a while if Airbyte is busy).</li>"
            "<li>At the end of that set-up the first sync starts. It reads every record the "
            "granted scopes allow, within HubSpot's limit of 110 requests per 10 seconds: "
            "minutes for a small account, hours for one with millions of records.</li>"
            "<li>Each stream's files land in the lake as the sync writes them; the analyst "
            f"tables are updated a few minutes later (new files are collected for up to "
            f"{window_seconds} seconds, then the curate job runs).</li>"
            f"<li>After that, syncs run {schedule}; each one reads only what changed.</li>"
            "</ol>")


def _scope_table(f: Facts) -> str:
    head = ("<table id=\"scopes\"><thead><tr><th>Scope</th><th>Requested</th>"
            "<th>Streams it lets the app read</th><th>Analyst tables</th></tr></thead><tbody>")
    body = []
    for r in data_catalog.rows(f.required, f.optional):
        note = f"<br><small>{escape(r.note)}</small>" if r.note else ""
        body.append(f"<tr data-scope=\"{escape(r.scope)}\"><td><code>{escape(r.scope)}</code>"
                    f"</td><td>{'required' if r.required else 'optional'}</td>"
                    f"<td>{escape(', '.join(r.streams)) or '—'}{note}</td>"
                    f"<td>{escape(', '.join(r.tables)) or '—'}</td></tr>")
    return head + "".join(body) + "</tbody></table>"


def _removal(f: Facts) -> str:
    common = ("Uninstall the app in HubSpot (Settings → Integrations → Connected apps). HubSpot "
              f"records the uninstall in its journal, which the app reads every "
              f"{f.journal_poll_minutes} minutes; then your account's Airbyte connection and "
              "source are deleted (no more syncs), its refresh token is revoked and deleted, and "
              "the installing user's e-mail and the account's domain are removed from our records "
              "(only the hub id and the dates of install and uninstall stay).")
    if not f.purge:
        return (f"<p id=\"removal\" data-purge=\"off\">{common} On this deployment the data "
                "already synced is <strong>not</strong> deleted by an uninstall "
                "(UNINSTALL_PURGE_S3 is off): ask the app's operator to delete it.</p>")
    h = f.retention_hours
    if h == 0:
        versions = ("the older table versions that still held them are removed at once, with "
                    "their files")
    else:
        bound = (f"{h + f.maintenance_interval_hours:g} hours" if f.maintenance_interval_hours
                 else f"{h:g} hours plus one maintenance interval")
        versions = (f"earlier table versions (snapshots, kept {h:g} hours so a bad run can be "
                    f"undone) still hold them until they are older than that: the purge and "
                    f"{f.maintenance} delete them with their files, so your rows are gone from "
                    f"every version within {bound}")
    return (f"<p id=\"removal\" data-purge=\"on\" data-retention-hours=\"{h:g}\">"
            f"{common} Then your raw files are deleted from the lake and your rows from every "
            "analyst table (one change per table; other accounts' reads are not interrupted); "
            f"{versions}.</p>")


def data_page(f: Facts) -> Page:
    where = (f"Amazon S3 in the app operator's AWS account (region {escape(f.region)})")
    catalog = (f" (Glue database <code>{escape(f.database)}</code>)" if f.database else "")
    inner = (
        "<h1 id=\"title\">What data the app takes</h1>"
        "<p>The app only <strong>reads</strong> your HubSpot data; it never changes it. What it "
        "reads depends on the scopes you grant at install: required scopes are needed to "
        "install, optional ones add streams when your HubSpot subscription has them. A stream is "
        "read when at least one of its scopes is granted; custom objects, when the custom-object "
        "scopes are.</p>" + _scope_table(f) +
        "<h2>Where it goes</h2>"
        f"<p id=\"where\">Into {where}. Each sync writes your records as Parquet files under "
        "<code>raw/&lt;your hub id&gt;/&lt;stream&gt;/</code>; the curate job then keeps one "
        "Apache Iceberg table per entity" + catalog + ", one row per record "
        "(the latest version, deletions flagged), with every account's rows in their own hub id "
        "partition; analysts query them with SQL (Amazon Athena). Your refresh token is stored "
        "encrypted (AWS KMS) and is never logged.</p>"
        "<h2>How often it syncs</h2>"
        f"<p id=\"schedule\">The first sync starts when your connection is set up; after that, "
        f"{f.schedule}.</p>" + arrival_html(f.schedule, f.trigger_window_seconds) +
        "<h2>How to remove it</h2>" + _removal(f) +
        f"<p><a class=\"button\" href=\"{escape(f.base)}/install\">Install the app</a></p>")
    return Page(200, document("What data the app takes", inner, f.base, footer=False))


def success_arrival(settings: Settings) -> str:
    return arrival_html(schedule_text(settings.airbyte.schedule_cron),
                        settings.glue.trigger_window_seconds)


__all__ = ["DATA_ROUTE", "Facts", "arrival_html", "data_page", "facts", "schedule_text",
           "success_arrival"]
