"""Chalice entry points: thin adapters from HTTP and AWS events to hubspot_app functions.

Handlers import what only they need inside their bodies, so each function's cold start
pays only for its own work.
"""
from chalice import Chalice, Response

from hubspot_app import logs
from hubspot_app.config import get_settings
from hubspot_app.tracing import configure_tracing

app = Chalice(app_name="hubspot-pipeline")
logs.configure()
configure_tracing()


def _respond(page) -> Response:
    return Response(body=page.body, status_code=page.status, headers=page.all_headers())


@app.route("/install", methods=["GET"])
def install():
    """The marketplace install link: redirect to HubSpot's consent page."""
    from hubspot_app.install import start_install

    return _respond(start_install(get_settings()))


@app.route("/oauth/callback", methods=["GET"])
def oauth_callback():
    """HubSpot redirects here after consent: store the account, queue its provisioning."""
    from hubspot_app.install import complete_install

    request = app.current_request
    return _respond(complete_install(get_settings(), dict(request.query_params or {}),
                                     request.headers.get("cookie")))


# -- Provisioning (issue 4): the SQS provisioner and the scheduled reconcile ---------------
# The queue name is read when Chalice loads the app (deploy/package set the stage's
# environment first); the default only keeps imports working without it.
import os as _os  # noqa: E402

from chalice import Rate as _Rate  # noqa: E402


@app.on_sqs_message(queue=_os.environ.get("PROVISION_QUEUE_NAME", "hubspot-pipeline-provision"),
                    batch_size=10, name="provisioner", maximum_concurrency=5)
def provisioner(event):
    """Provision messages -> each account's Airbyte source and connection. Returns the partial
    batch response (needs ReportBatchItemFailures on the event source: see README)."""
    from hubspot_app.provisioner import handle_batch

    return handle_batch(get_settings(), event.to_dict(), event.context)


@app.schedule(_Rate(1, unit=_Rate.HOURS), name="reconcile")
def reconcile(event):
    """Compare every account with Airbyte; queue repairs for drift."""
    from hubspot_app.reconcile import run_scheduled

    return run_scheduled(get_settings())
