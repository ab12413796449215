"""The few HTML pages a person sees during an install, and the headers every page carries."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from html import escape

from hubspot_app.config import base_path

SECURITY_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    # Inline CSS only; no scripts, frames, forms or plugins on these pages.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The callback URL carries the OAuth code: never send it on as a Referer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;"
          "color:#213343}h1{font-size:1.6rem}.ok{color:#00a4bd}.err{color:#d9534f}"
          "code{background:#f5f8fa;padding:0 .3rem}a.button{display:inline-block;margin-top:1rem;"
          "padding:.6rem 1rem;background:#ff7a59;color:#fff;border-radius:4px;text-decoration:none}"
          "table{border-collapse:collapse;font-size:.9rem;width:100%}td,th{border:1px solid #cbd6e2;"
          "padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}"
          "footer{margin-top:2rem;font-size:.9rem}")
DATA_ROUTE = "/data"   # the installers' page: what data the app takes (hubspot_app/data_page.py)


@dataclass
class Page:
    status: int
    body: str
    headers: dict = field(default_factory=dict)

    def all_headers(self) -> dict:
        return {**SECURITY_HEADERS, **self.headers}


def document(title: str, inner: str, base: str | None = None, footer: bool = True) -> str:
    """A whole page. ``base``: the routes' path prefix (API Gateway's stage, e.g. "/api"), so the
    footer's link to the data page works behind it; read from the redirect URI when None."""
    base = default_base_path() if base is None else base
    foot = (f"<footer><a id=\"data-link\" href=\"{escape(base + DATA_ROUTE)}\">What data the app "
            f"takes, where it goes, how to remove it</a></footer>") if footer else ""
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{inner}</main>{foot}</body></html>")


def default_base_path() -> str:
    return base_path(os.environ.get("HUBSPOT_REDIRECT_URI", ""))


def success_page(hub_id: int, hub_domain: str | None, user: str | None, arrival: str = "",
                 base: str | None = None) -> Page:
    """``arrival``: the HTML list of when the data really arrives (data_page.success_arrival)."""
    where = escape(hub_domain or f"account {hub_id}")
    inner = (f"<h1 class=\"ok\" id=\"result\" data-hub-id=\"{hub_id}\">HubSpot connected</h1>"
             f"<p>The app is installed in <strong>{where}</strong> (hub {hub_id})"
             f"{' by ' + escape(user) if user else ''}.</p><h2>When your data arrives</h2>"
             f"{arrival}<p>You can close this page.</p>")
    return Page(200, document("HubSpot connected", inner, base))


def default_install_path() -> str:
    """`/install` under the routes' path prefix (API Gateway's stage), from the redirect URI;
    read from the environment so that even a page about broken settings links correctly."""
    return f"{default_base_path()}/install"


def error_page(status: int, title: str, detail: str, install_path: str | None = None) -> Page:
    install_path = install_path or default_install_path()
    inner = (f"<h1 class=\"err\" id=\"result\" data-error=\"{status}\">{escape(title)}</h1>"
             f"<p>{escape(detail)}</p>"
             f"<a class=\"button\" href=\"{escape(install_path)}\">Start the install again</a>")
    base = install_path[: -len("/install")] if install_path.endswith("/install") else None
    return Page(status, document(title, inner, base))


def unexpected_error(json_answer: bool = False) -> Page:
    """What a route answers when something failed on our side (an AWS call, a bug): a 503, so
    that HubSpot retries a webhook and a person tries again; no detail leaves."""
    if json_answer:
        return Page(503, '{"error": "try_again_later"}', {"Content-Type": "application/json"})
    return error_page(503, "Something went wrong on our side",
                      "Nothing was installed or changed. Please try again in a few minutes.")
