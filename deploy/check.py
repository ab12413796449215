"""`python -m deploy check --stage S`: refuse a stage whose settings still hold the repository's
placeholders, before anything is packaged (`deploy package` runs it first).

Each problem names the exact setting and where to change it. Placeholders: the `example.com`
domain, the example account id `123456789012` (except in settings the packaged template fills
from the resources it creates), empty required secret names, an empty `HUBSPOT_APP_ID` (the
webhook handler needs it to ignore other apps' events), an alert-webhook secret name the
policies do not grant, and API throttling or WAF limits API Gateway or AWS WAF would refuse.
"""
from __future__ import annotations

from . import api_limits, infra

EXAMPLE_ACCOUNT = "123456789012"
EXAMPLE_DOMAIN = "example.com"
REQUIRED_SECRETS = ("APP_SECRET_NAME", "AIRBYTE_SECRET_NAME")
DEPLOYED = ("dev", "prod")


def _where(stage: str, var: str, config: dict) -> str:
    if var in config["stages"][stage].get("environment_variables", {}):
        return f'stages.{stage}.environment_variables.{var} in .chalice/config.json'
    return (f'{var} in .chalice/config.json (top-level environment_variables; override it in '
            f'stages.{stage}.environment_variables)')


def problems(stage: str, config: dict | None = None, chalice_deploy: bool = False) -> list[str]:
    """What must change before `stage` can be deployed; empty when it is ready."""
    config = config or infra.load_config()
    if stage not in DEPLOYED:
        return [f"stage {stage!r} is not deployed to AWS (choose one of {', '.join(DEPLOYED)})"]
    env = infra.stage_env(stage, config)
    filled: set[str] = set()
    if not chalice_deploy:
        # Settings the packaged template overrides with the ARNs/URLs of what it creates.
        t = infra.Template(stage)
        t.config, t.env = config, env
        t.topic()
        t.airbyte_writer()
        filled = set(t.env_refs) | set(infra.TOPIC_VARS)
    out = []
    for var, value in sorted(env.items()):
        if EXAMPLE_DOMAIN in value:
            out.append(f"{_where(stage, var, config)} is {value!r}: replace {EXAMPLE_DOMAIN} "
                       f"with your API's domain (README, Deploying, step 2)")
        if EXAMPLE_ACCOUNT in value and var not in filled:
            out.append(f"{_where(stage, var, config)} holds the example account id "
                       f"{EXAMPLE_ACCOUNT}: put your AWS account id")
    for var in REQUIRED_SECRETS:
        if not env.get(var):
            out.append(f"{_where(stage, var, config)} is empty: name the Secrets Manager secret "
                       f"(hubspot-pipeline/{stage}/...)")
    if not env.get("HUBSPOT_APP_ID", "").strip().isdigit():
        out.append(f"{_where(stage, 'HUBSPOT_APP_ID', config)} is "
                   f"{env.get('HUBSPOT_APP_ID', '')!r}: set the HubSpot app's numeric id "
                   f"(developer account -> your app -> App ID)")
    stage_name = config["stages"][stage].get("api_gateway_stage", "api")
    for limits in (lambda: api_limits.throttling(env),
                   lambda: api_limits.waf(env, f"{config['app_name']}-{stage}", stage_name)):
        try:
            limits()
        except ValueError as exc:
            out.append(f"API limits in .chalice/config.json: {exc}")
    webhook = env.get("ALERT_WEBHOOK_SECRET_NAME", "")
    if webhook and webhook != f"hubspot-pipeline/{stage}/alert-webhook":
        out.append(f"{_where(stage, 'ALERT_WEBHOOK_SECRET_NAME', config)} is {webhook!r}: the "
                   f"policies grant only hubspot-pipeline/{stage}/alert-webhook (or leave it empty)")
    return out
