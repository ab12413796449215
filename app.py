"""Chalice entry points, the app's table of contents: each handler's body is one call into its
adapter in hubspot_app.handlers, which builds the domain objects from this container's Services
(hubspot_app.runtime).

Handlers import their adapter inside their bodies, so each function's cold start pays
only for its own work (tests/integration/deploy/test_lazy_imports.py checks it). Queue names are read when
Chalice loads the app: `chalice package/deploy --stage S` sets the stage's environment first;
the defaults only keep the import working without one.
"""
from chalice import Chalice, Cron, Rate, Response

from hubspot_app import logs
from hubspot_app.config import event_sources
from hubspot_app.tracing import configure_tracing

# configure_logs=False: Chalice's own logger (it logs every unhandled exception) propagates to the
# root logger, whose handler writes the project's redacted JSON lines (hubspot_app.logs).
app = Chalice(app_name="hubspot-pipeline", configure_logs=False)
logs.configure()
configure_tracing()
SOURCES = event_sources()  # queue names and the batching window, read as Chalice loads the app


def _request():
    """The route's request: Chalice sets it before every route call."""
    request = app.current_request
    if request is None:
        raise RuntimeError("no current request (called outside a route)")
    return request


def _page(page) -> Response:
    return Response(body=page.body, status_code=page.status, headers=page.all_headers())


@app.middleware("all")
def invocation_fields(event, get_response):
    """Every function's log lines carry the invocation's request id, cold start and X-Ray trace
    id (hubspot_app.logs.invocation). Routes' events hold the Lambda context as
    `lambda_context`, the other events as `context`."""
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    with logs.invocation(context):
        return get_response(event)


@app.middleware("http")
def project_errors(event, get_response):
    """Chalice answers an exception in a route with its generic JSON 500 (after logging it):
    every route answers the project's own page or JSON error instead."""
    response = get_response(event)
    if response.status_code >= 500 and isinstance(response.body, dict) and "Code" in response.body:
        from hubspot_app.pages import unexpected_error

        return _page(unexpected_error(json_answer=event.path.startswith("/webhooks/")))
    return response


# -- Install (routes) -------------------------------------------------------------------------
@app.route("/install", methods=["GET"])
def install():
    """The marketplace install link: redirect to HubSpot's consent page."""
    from hubspot_app.handlers.install import install_link

    return _page(install_link())


@app.route("/oauth/callback", methods=["GET"])
def oauth_callback():
    """HubSpot redirects here after consent: store the account, queue its provisioning."""
    from hubspot_app.handlers.install import oauth_callback as complete

    request = _request()
    return _page(complete(dict(request.query_params or {}), request.headers.get("cookie")))


@app.route("/data", methods=["GET"])
def data_page():
    """For installers: what data the app takes, where it goes, how often, how to remove it."""
    from hubspot_app.handlers.data_page import data_page as render

    return _page(render(JOURNAL_POLL_MINUTES))


@app.route("/webhooks/hubspot", methods=["POST"], content_types=["application/json"])
def hubspot_webhook():
    """HubSpot-signed (v3) webhook: verified and acknowledged (uninstalls come from the journal)."""
    from hubspot_app.handlers.webhooks import webhook_response
    from hubspot_app.pages import SECURITY_HEADERS

    request = _request()
    raw_body = request.raw_body or b""
    # The raw query string when the event has one (HTTP API payloads); see hubspot_app.webhooks.
    raw_query = (request.to_original_event() or {}).get("rawQueryString")
    status, body = webhook_response(request.method, dict(request.headers),
                                    raw_body if isinstance(raw_body, bytes) else raw_body.encode(),
                                    dict(request.query_params or {}),
                                    raw_query)
    return Response(body=body, status_code=status,
                    headers={**SECURITY_HEADERS, "Content-Type": "application/json"})


# -- Provisioning: the SQS provisioner and the scheduled reconcile ------------------------------
@app.on_sqs_message(queue=SOURCES.provision_queue,
                    batch_size=10, name="provisioner", maximum_concurrency=5)
def provisioner(event):
    """Provision messages -> each account's Airbyte source and connection. Returns the partial
    batch response (ReportBatchItemFailures is set by the deploy templates)."""
    from hubspot_app.handlers.provisioning import provisioner as provision_batch

    return provision_batch(event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.HOURS), name="reconcile")
def reconcile(event):
    """Compare every account with Airbyte; queue repairs for drift."""
    from hubspot_app.handlers.provisioning import reconcile as run_reconcile

    return run_reconcile()


# -- Token health and offboarding ---------------------------------------------------------------
@app.schedule(Rate(6, unit=Rate.HOURS), name="token_health_schedule")
def token_health_schedule(event):
    """Fan every account out to the lifecycle queue, N hub_ids per message."""
    from hubspot_app.handlers.lifecycle import token_health_schedule as fan_out

    return fan_out(event.to_dict())


JOURNAL_POLL_MINUTES = 5


@app.schedule(Rate(JOURNAL_POLL_MINUTES, unit=Rate.MINUTES), name="journal_poller")
def journal_poller(event):
    """HubSpot's webhooks journal: APP_UNINSTALL events of known accounts -> offboarding."""
    from hubspot_app.handlers.lifecycle import journal_poller as poll_journal

    return poll_journal()


@app.on_sqs_message(queue=SOURCES.lifecycle_queue,
                    batch_size=4, name="lifecycle_worker", maximum_concurrency=2)
def lifecycle_worker(event):
    """Check a batch of accounts' tokens (and run queued uninstalls); partial batch response."""
    from hubspot_app.handlers.lifecycle import lifecycle_worker as work

    return work(event.to_dict(), event.context)


# -- Lake events: S3 raw/ object-created -> SQS -> few Glue job runs ------------------------------
GLUE_TRIGGER_WINDOW_SECONDS = SOURCES.glue_trigger_window_seconds


@app.on_sqs_message(queue=SOURCES.glue_trigger_queue,
                    batch_size=1000, maximum_batching_window_in_seconds=GLUE_TRIGGER_WINDOW_SECONDS,
                    name="glue_trigger",
                    maximum_concurrency=2)
def glue_trigger(event):
    """Batches of raw/ file events start Glue runs for their accounts; records whose run cannot
    start now return later (partial batch response; see hubspot_app.glue_trigger.consume)."""
    from hubspot_app.handlers.lake import glue_trigger as consume

    return consume(event.to_dict())


@app.schedule(Rate(1, unit=Rate.HOURS), name="glue_reconcile")
def glue_reconcile(event):
    """Backstop: an all-accounts run (the job skips files it has processed)."""
    from hubspot_app.handlers.lake import glue_reconcile as start_backstop_run

    return start_backstop_run()


# -- Association labels (the connector drops them): daily snapshot per account -> raw/ ----------
@app.schedule(Cron(0, 5, "*", "*", "?", "*"), name="association_labels_schedule")
def association_labels_schedule(event):
    """Daily at 05:00 UTC: one message per active account on the association-labels queue."""
    from hubspot_app.handlers.associations import association_labels_schedule as fan_out

    return fan_out(event.to_dict())


@app.on_sqs_message(queue=SOURCES.association_labels_queue,
                    batch_size=1, name="association_labels_worker", maximum_concurrency=5)
def association_labels_worker(event):
    """One account's snapshot step: chunks while time lasts, then a continuation or the
    manifest; partial batch response."""
    from hubspot_app.handlers.associations import association_labels_worker as work

    return work(event.to_dict(), event.context)
