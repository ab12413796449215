"""HTML for the consent page and the authorize error page (kept apart from the OAuth logic)."""
from html import escape

_STYLE = ("body{font-family:sans-serif;max-width:640px;margin:2em auto}"
          "label{display:block;margin:.3em 0}li{font-family:monospace}")


def error_page(title: str, detail: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
            f"<p class='error'>{escape(detail)}</p></body></html>")


def consent_page(app_name: str, user_email: str, accounts: list, scopes: list,
                 optional_scopes: list, params: dict, notice: str = "") -> str:
    hidden = "".join(f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>"
                     for k, v in params.items() if v is not None)
    radios = "".join(
        f"<label><input type='radio' name='hub_id' value='{a.hub_id}'"
        f"{' checked' if i == 0 else ''}> {escape(a.name)} ({escape(a.hub_domain)}, "
        f"Hub ID {a.hub_id})</label>" for i, a in enumerate(accounts))
    scope_items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
    opt_items = "".join(f"<li>{escape(s)} (optional)</li>" for s in optional_scopes)
    note = f"<p class='error'>{escape(notice)}</p>" if notice else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Connect app</title>"
            f"<style>{_STYLE}</style></head><body>"
            f"<h1>Connect {escape(app_name)} to HubSpot</h1>"
            f"<p>Signed in as {escape(user_email)}</p>{note}"
            f"<form method='post' action='/oauth/authorize'>{hidden}"
            f"<fieldset><legend>Choose an account</legend>{radios}</fieldset>"
            f"<h2>This app is requesting access to</h2><ul class='scopes'>{scope_items}{opt_items}</ul>"
            f"<button type='submit' name='decision' value='approve'>Connect app</button> "
            f"<button type='submit' name='decision' value='deny'>Cancel</button>"
            f"</form></body></html>")
