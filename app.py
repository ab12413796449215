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
