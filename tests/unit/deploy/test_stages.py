"""Stages: every setting in `.chalice/config.json` for local, dev and prod; the README documents
each; nothing differs between stages in code."""
from __future__ import annotations

import re
from pathlib import Path

from deploy import infra

ROOT = Path(__file__).resolve().parents[3]
# Set on the local stage only, with why.
LOCAL_ONLY = {
    "AWS_ENDPOINT_URL": "the moto server",
    "AWS_ACCESS_KEY_ID": "dummy credentials for moto (Lambda provides real ones)",
    "AWS_SECRET_ACCESS_KEY": "dummy credentials for moto",
    "AWS_DEFAULT_REGION": "Lambda sets it",
    "AWS_XRAY_SDK_ENABLED": "Lambda: config.json's \"xray\": true",
    "ALERTS_INBOX_QUEUE_NAME": "stands in for operators' subscriptions to the alert topic",
}
# Set on deployed stages only, with why.
DEPLOYED_ONLY = {
    "AIRBYTE_S3_ROLE_ARN": "the emulator writes to moto with the local credentials",
    "HUBSPOT_WEBHOOK_URL": "locally derived from HUBSPOT_REDIRECT_URI (the local port varies)",
}
# Read from the environment but provided by the Lambda runtime, not by us.
RUNTIME = {"AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_EXECUTION_ENV",
           "_X_AMZN_TRACE_ID", "AWS_LAMBDA_LOG_GROUP_NAME"}


def _settings(stage):
    return set(infra.stage_env(stage))


def _read_by_code() -> set[str]:
    pattern = re.compile(r"""(?:_env\w*|environ\.get|environ\[|getenv|\bg)\(?\s*["']([A-Z][A-Z0-9_]{2,})["']""")
    names = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "hubspot_app").rglob("*.py"))]:
        names |= set(pattern.findall(path.read_text()))
    return names - RUNTIME


def _readme_settings() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Settings")
    end = text.find("\n## ", start + 5)
    return text[start:end if end > 0 else None]


def test_dev_and_prod_set_the_same_settings():
    assert _settings("dev") == _settings("prod"), _settings("dev") ^ _settings("prod")


def test_local_sets_the_same_settings_as_deployed_stages():
    local, dev = _settings("local"), _settings("dev")
    assert dev - local == set(DEPLOYED_ONLY), "set these on the local stage too: " + str(
        sorted(dev - local - set(DEPLOYED_ONLY)))
    assert local - dev == set(LOCAL_ONLY), "set these on dev and prod too: " + str(
        sorted(local - dev - set(LOCAL_ONLY)))


def test_every_setting_the_code_reads_is_configured():
    configured = _settings("local") | _settings("dev")
    missing = sorted(_read_by_code() - configured)
    assert not missing, f"read by hubspot_app/app.py but set in no stage of config.json: {missing}"


def test_readme_documents_every_setting():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", _readme_settings()))
    every = _settings("local") | _settings("dev") | _settings("prod") | _read_by_code()
    missing = sorted(every - documented)
    assert not missing, f"README '## Settings' lacks: {missing}"


def test_no_stage_branches_in_code():
    offenders = []
    stage_words = re.compile(r"""(==|!=|\bin\b)\s*\(?\s*["'](local|dev|prod)["']|["'](dev|prod)["']\s*(==|!=)"""
                             r"""|\bSTAGE\b["']?\s*\]?\)?\s*(==|!=)""")
    for path in [ROOT / "app.py", *sorted((ROOT / "hubspot_app").rglob("*.py"))]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if stage_words.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


# Configured, but read by a library rather than by our code, with why.
READ_BY_LIBRARIES = {
    "AWS_ACCESS_KEY_ID": "boto3 (moto's dummy credentials on the local stage)",
    "AWS_SECRET_ACCESS_KEY": "boto3",
    "AWS_ENDPOINT_URL": "boto3 (the moto server on the local stage)",
    "AWS_DEFAULT_REGION": "boto3",
    "AWS_XRAY_SDK_ENABLED": "aws_xray_sdk",
}


def _named_in(*folders: str) -> set[str]:
    """Upper-case names quoted anywhere in these folders' code (settings are read by name, some
    through a constant such as metrics.NAMESPACE_ENV)."""
    quoted = re.compile(r"""["']([A-Z][A-Z0-9_]{2,})["']""")
    names = set()
    for folder in folders:
        paths = [ROOT / folder] if folder.endswith(".py") else sorted((ROOT / folder).rglob("*.py"))
        for path in paths:
            names |= set(quoted.findall(path.read_text()))
    return names


# Configured for the deploy templates only (read by deploy/, never by a function), with why.
TEMPLATE_ONLY = {
    "API_THROTTLE_RATE_LIMIT": "API Gateway stage throttling (deploy/api_limits.py)",
    "API_THROTTLE_BURST_LIMIT": "API Gateway stage throttling",
    "INSTALL_THROTTLE_RATE_LIMIT": "GET /install's method throttling",
    "INSTALL_THROTTLE_BURST_LIMIT": "GET /install's method throttling",
    "INSTALL_WAF_RATE_LIMIT": "the WAF web ACL's rate rule",
    "LOG_RETENTION_DAYS": "the functions' log groups",
    "LAKE_BUCKET_ACCOUNT_REGION_SUFFIX": "the bucket's name in the template (the functions get "
                                         "the resulting LAKE_BUCKET)",
    "ATHENA_WORKGROUP": "the Athena workgroup resource",
    "LAKE_SNAPSHOT_RETENTION_HOURS": "the curate job's argument (maintenance and purge runs)",
    "LAKE_MAINTENANCE_SCHEDULE": "the scheduled Glue trigger of the maintenance runs",
}


def test_every_configured_setting_is_read_by_the_functions():
    """Each variable of .chalice/config.json is read by app.py/hubspot_app (through
    hubspot_app.config, or by a library), or is one of the few the templates or the local stack
    alone consume, listed above with why."""
    configured = _settings("local") | _settings("dev") | _settings("prod")
    functions = _named_in("app.py", "hubspot_app") | set(READ_BY_LIBRARIES)
    unread = sorted(configured - functions - set(TEMPLATE_ONLY) - set(LOCAL_ONLY))
    assert not unread, (f"set in .chalice/config.json but read by no function: {unread} (read it "
                        "through hubspot_app.config, remove it, or list it in TEMPLATE_ONLY)")
    assert set(TEMPLATE_ONLY) <= _named_in("deploy"), set(TEMPLATE_ONLY) - _named_in("deploy")
    assert set(TEMPLATE_ONLY) <= configured, set(TEMPLATE_ONLY) - configured


def test_settings_are_read_in_one_place():
    """hubspot_app.config reads the environment; modules take the one Settings. Exceptions:
    what Lambda's runtime or a library sets, and what is read before settings can load."""
    allowed = {
        "hubspot_app/config.py": "the settings",
        "hubspot_app/logs.py": "LOG_LEVEL, before anything else can log; the runtime's _X_AMZN_TRACE_ID",
        "hubspot_app/tracing.py": "the runtime's X-Ray switches",
        "hubspot_app/metrics.py": "namespace and stage of every metric line, settings or not",
        "hubspot_app/messaging/retry.py": "the queues' retry table, shared with deploy/infra.py",
        "hubspot_app/lifecycle/provision_queue.py": "AWS_LAMBDA_FUNCTION_NAME (the runtime's)",
        "hubspot_app/ops/cli.py": "--stage writes a stage's environment",
        "hubspot_app/pages.py": "an error page renders when the settings cannot load (a "
                                "misconfigured stage still answers its own 503 page)",
    }
    readers = sorted(str(p.relative_to(ROOT)) for p in [ROOT / "app.py",
                                                         *(ROOT / "hubspot_app").rglob("*.py")]
                     if re.search(r"os\.environ|os\.getenv", p.read_text()))
    extra = [r for r in readers if r not in allowed]
    assert not extra, f"read the environment through hubspot_app.config instead: {extra}"
    stale = sorted(set(allowed) - set(readers))
    assert not stale, f"no longer read there: remove from the allow-list: {stale}"


def test_enum_like_settings_are_checked_when_loaded(monkeypatch):
    import pytest

    from hubspot_app import config, logs

    for name, value in infra.stage_env("local").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RECONCILE_UNINSTALLED_ACTION", "delet")
    config.reset_settings()
    with pytest.raises(RuntimeError, match="RECONCILE_UNINSTALLED_ACTION='delet' is not one of delete, pause"):
        config.get_settings()
    monkeypatch.setenv("RECONCILE_UNINSTALLED_ACTION", "pause")
    monkeypatch.setenv("GLUE_TRIGGER_GROUPING", "per-account")
    config.reset_settings()
    with pytest.raises(RuntimeError, match="GLUE_TRIGGER_GROUPING='per-account' is not one of "
                                           "global, account"):
        config.get_settings()
    monkeypatch.setenv("GLUE_TRIGGER_GROUPING", "account")
    monkeypatch.setenv("PROVISION_LEASE_SECONDS", "90s")
    config.reset_settings()
    with pytest.raises(RuntimeError, match="PROVISION_LEASE_SECONDS='90s' is not a whole number"):
        config.get_settings()
    monkeypatch.undo()
    config.reset_settings()
    with pytest.raises(RuntimeError, match="LOG_LEVEL='LOUD'"):
        logs.configure("loud")


def test_one_frozen_settings_object_with_its_sections(monkeypatch):
    import dataclasses

    import pytest

    from hubspot_app import config

    for name, value in infra.stage_env("local").items():
        monkeypatch.setenv(name, value)
    config.reset_settings()
    try:
        settings = config.get_settings()
        assert config.get_settings() is settings                 # read once per container
        with pytest.raises(dataclasses.FrozenInstanceError):
            settings.stage = "prod"  # type: ignore[misc]  # frozen: the assignment must fail
        env = infra.stage_env("local")
        assert settings.lifecycle.queue_name == env["LIFECYCLE_QUEUE_NAME"]
        assert settings.glue.job_name == env["GLUE_JOB_NAME"]
        assert settings.glue.trigger_dlq_name == env["GLUE_TRIGGER_DLQ_NAME"]
        assert settings.alerts.topic_arn == env["ALERTS_TOPIC_ARN"]
        assert settings.lake.curated_prefix == env["LAKE_CURATED_PREFIX"]
    finally:
        monkeypatch.undo()
        config.reset_settings()


def test_an_empty_lake_region_is_the_functions_region(monkeypatch):
    """chalice deploy passes LAKE_REGION="" through (it used to stop every function at start);
    Lambda's runtime sets AWS_REGION."""
    from hubspot_app import config

    for name, value in infra.stage_env("dev").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    config.reset_settings()
    try:
        assert infra.stage_env("dev")["LAKE_REGION"] == ""
        assert config.get_settings().lake.region == "eu-west-1"
        monkeypatch.setenv("LAKE_REGION", "eu-central-1")   # set: it wins
        config.reset_settings()
        assert config.get_settings().lake.region == "eu-central-1"
    finally:
        monkeypatch.undo()
        config.reset_settings()


def test_the_glue_job_has_one_deploy_path_documented_once():
    """Issue 11 §4: no second Glue template or deploy recipe; glue/README links to the guide."""
    glue = ROOT / "glue"
    assert not (glue / "template.json").exists()
    templates = [p.name for p in glue.rglob("*.json") if p.name != "job.json"]
    assert not templates, f"a second Glue deploy definition: {templates}"
    text = (glue / "README.md").read_text()
    section = text[text.index("## Deploy"):]
    section = section[:section.find("\n## ", 3) if "\n## " in section[3:] else None]
    assert "../README.md#deploying" in section
    for recipe in ("create-job", "cloudformation deploy", "aws glue "):
        assert recipe not in section, f"glue/README describes its own deploy: {recipe!r}"
    guide = (ROOT / "README.md").read_text()
    assert "\n## Deploying\n" in guide and "python -m deploy upload-glue" in guide
