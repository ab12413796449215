"""Loaded at start-up by every Python process of the connector venv that has this folder on
PYTHONPATH. When HUBSPOT_SANDBOX_URL is set, HubSpot's hosts are rewritten to the sandbox at the
last moment (HTTPAdapter.send), so the connector's code, URLs and auth stay untouched.
"""
import os

_SANDBOX = os.environ.get("HUBSPOT_SANDBOX_URL", "").rstrip("/")


def _install():
    from urllib.parse import urlsplit, urlunsplit

    import requests.adapters

    target = urlsplit(_SANDBOX)
    original_send = requests.adapters.HTTPAdapter.send

    def _is_hubspot(host: str) -> bool:
        host = (host or "").lower()
        return host in ("hubapi.com", "hubspot.com") or host.endswith((".hubapi.com", ".hubspot.com"))

    def send(self, request, *args, **kwargs):
        parts = urlsplit(request.url)
        if _is_hubspot(parts.hostname):
            request.url = urlunsplit((target.scheme, target.netloc, parts.path, parts.query,
                                      parts.fragment))
            request.headers.pop("Host", None)
        return original_send(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = send


if _SANDBOX:
    _install()
