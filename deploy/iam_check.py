"""Is every AWS call the code makes allowed by the policy its function deploys with?

Three parts, used by the test suite (`deploy/iam_pytest.py`, a pytest plugin):

- **Recording.** `install()` hooks `botocore.session.Session.create_client`, so every client of
  every session gets the hooks: boto3's default session, extra sessions, and pynamodb's (which
  uses botocore directly). Each call becomes a `Call`: the function that made it, the IAM
  action(s) it needs, the resource ARN(s) and the condition keys that policies here test
  (`s3:prefix`, the KMS key's aliases and the encryption context keys). `acting_as(name)`
  attributes calls: the plugin sets it around every Chalice invocation (routes ->
  `api_handler`, event handlers by name); calls from code under `glue/` count as the Glue job.
  Calls outside both (test set-up, the local stack, operators' CLI) are not a Lambda's and are
  not checked.
- **The policies as deployed.** A function's policy is `.chalice/<iam_policy_file>` of the stage,
  the very JSON `chalice package` embeds in the function's role (`tests/integration/deploy/test_iam_calls.py`
  compares it with the packaged template); the Glue job's is `GlueJobRole` of the merge template;
  KMS calls also need the key policy, also from the merge template. Tests run on the `local`
  stage's names: a resource named by a setting is renamed to the same setting's value in the
  stage evaluated (dev and prod), so `hubspot-pipeline-local-accounts` is judged as
  `hubspot-pipeline-dev-accounts` against the dev policy.
- **Evaluation** by a real IAM policy evaluator: `@cloud-copilot/iam-simulate` (npm; run by
  `deploy/iam_sim/evaluate.mjs`, one long-lived node process). Why not moto's: moto's
  `access_control` knows only `StringEquals` and skips every other condition operator (our
  `StringLike` on `s3:prefix`, `ForAnyValue:StringEquals` on `kms:ResourceAliases` would pass
  unchecked), turns a failed condition into an explicit deny, and matches actions
  case-sensitively. iam-simulate implements AWS's documented evaluation logic
  (identity + resource policies, all condition operators, set operators, IfExists), and rejects
  actions, resource types and context keys that do not exist in AWS's Service Authorization
  Reference, so a misspelt grant fails too. Its one gap that matters here:
  `kms:EncryptionContext:<key>` keys are ignored (it expands variable keys only after a `/`);
  the encryption context's key *names* are checked through `kms:EncryptionContextKeys`, and a
  policy that conditions on a `kms:EncryptionContext:` value is refused (`unsupported`), so
  nothing passes unchecked.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from . import infra

ROOT = infra.ROOT
SIM_DIR = ROOT / "deploy" / "iam_sim"
GLUE_JOB = "glue_job"               # the name calls from glue/ are attributed to
DEPLOYED_STAGES = ("dev", "prod")
PARTITION = "aws"

_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_acting_as", default=None)
_quiet = threading.local()          # the recorder's own look-ups are not recorded


@contextlib.contextmanager
def _unrecorded():
    before = getattr(_quiet, "on", False)
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = before


@contextlib.contextmanager
def acting_as(function: str):
    token = _acting.set(function)
    try:
        yield
    finally:
        _acting.reset(token)


def current_function() -> str | None:
    name = _acting.get()
    if name:
        return name
    glue_dir = str(ROOT / "glue") + os.sep
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(glue_dir):
            return GLUE_JOB
        frame = frame.f_back
    return None


# --------------------------------------------------------------------------------------------
# What one API call needs: (action, resource ARN, context keys), one or more.
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    context: tuple = ()           # ((key, value), ...) hashable

    def context_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.context}


@dataclass
class Call:
    function: str
    service: str
    operation: str
    needs: list[Need]
    region: str
    account: str
    error: str | None = None      # no IAM mapping for this operation
    where: str = ""


class Unmapped(Exception):
    pass


def _queue_arn(region: str, account: str, url_or_name: str) -> str:
    if url_or_name.startswith("http"):
        parts = urlparse(url_or_name).path.strip("/").split("/")
        account, name = parts[-2], parts[-1]
    else:
        name = url_or_name
    return f"arn:{PARTITION}:sqs:{region}:{account}:{name}"


def _table_arn(region: str, account: str, table: str, index: str | None = None) -> str:
    if table.startswith("arn:"):
        base = table
    else:
        base = f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{table}"
    return f"{base}/index/{index}" if index else base


def _secret_arn(region: str, account: str, secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    # Secrets Manager appends "-" and six random characters to every secret's ARN.
    return f"arn:{PARTITION}:secretsmanager:{region}:{account}:secret:{secret_id}-AbC123"


def _s3(bucket: str, key: str | None = None) -> str:
    return f"arn:{PARTITION}:s3:::{bucket}" + (f"/{key}" if key is not None else "")


def _glue(region: str, account: str, kind: str, *names: str) -> str:
    return f"arn:{PARTITION}:glue:{region}:{account}:{kind}" + "".join(f"/{n}" for n in names)


def _glue_catalog_needs(action: str, region: str, account: str, params: dict) -> list[Need]:
    """Glue Data Catalog calls are authorised on the catalog, the database and the table(s)
    they touch (AWS Glue Developer Guide, "Specifying AWS Glue resource ARNs")."""
    db = params.get("DatabaseName") or (params.get("DatabaseInput") or {}).get("Name")
    needs = [Need(action, _glue(region, account, "catalog"))]
    if db:
        needs.append(Need(action, _glue(region, account, "database", db)))
        table = params.get("Name") or params.get("TableName") or \
            (params.get("TableInput") or {}).get("Name")
        if table:
            needs.append(Need(action, _glue(region, account, "table", db, table)))
        elif action in ("glue:GetTables", "glue:DeleteTable", "glue:BatchDeleteTable",
                        "glue:SearchTables"):
            needs.append(Need(action, _glue(region, account, "table", db, "*")))
    return needs


def needs_for(service: str, op: str, params: dict, region: str, account: str,
              response: dict | None = None, endpoint: str | None = None) -> list[Need]:
    """The IAM authorisation(s) AWS checks for one call (Service Authorization Reference).
    Raises Unmapped for an operation this table does not know yet: add it here."""
    p = params
    if service == "sts" and op == "GetCallerIdentity":
        return []                                   # needs no permission
    if service == "sqs":
        queue = p.get("QueueUrl") or p.get("QueueName")
        if not queue:
            raise Unmapped(op)
        action = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                  "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}.get(op, op)
        return [Need(f"sqs:{action}", _queue_arn(region, account, queue))]
    if service == "dynamodb":
        if op in ("BatchGetItem", "BatchWriteItem"):
            action = "dynamodb:" + op
            return [Need(action, _table_arn(region, account, t)) for t in sorted(p["RequestItems"])]
        if op == "TransactWriteItems":
            out = []
            for item in p["TransactItems"]:
                (kind, body), = item.items()
                action = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                          "ConditionCheck": "ConditionCheckItem"}[kind]
                out.append(Need(f"dynamodb:{action}", _table_arn(region, account, body["TableName"])))
            return out
        if op == "TransactGetItems":
            return [Need("dynamodb:GetItem", _table_arn(region, account, i["Get"]["TableName"]))
                    for i in p["TransactItems"]]
        if "TableName" not in p:
            raise Unmapped(op)
        return [Need(f"dynamodb:{op}", _table_arn(region, account, p["TableName"], p.get("IndexName")))]
    if service == "kms":
        return _kms_needs(op, p, region, account, response, endpoint)
    if service == "secretsmanager":
        return [Need(f"secretsmanager:{op}", _secret_arn(region, account, p["SecretId"]))]
    if service == "sns" and op == "Publish":
        return [Need("sns:Publish", p.get("TopicArn") or p["TargetArn"])]
    if service == "s3":
        return _s3_needs(op, p)
    if service == "glue":
        if op in ("StartJobRun", "GetJobRun", "GetJobRuns", "GetJob", "BatchStopJobRun",
                  "GetJobBookmark", "ResetJobBookmark"):
            return [Need(f"glue:{op}", _glue(region, account, "job", p["JobName"]))]
        if op in ("GetDatabase", "CreateDatabase", "GetTable", "GetTables", "CreateTable",
                  "UpdateTable", "DeleteTable", "BatchDeleteTable", "GetPartitions",
                  "BatchCreatePartition", "GetTableVersions", "GetDatabases"):
            return _glue_catalog_needs(f"glue:{op}", region, account, p)
        raise Unmapped(op)
    if service == "athena":
        group = p.get("WorkGroup")
        if op in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults",
                  "StopQueryExecution", "GetWorkGroup", "GetNamedQuery", "ListNamedQueries"):
            if not group:
                group = "primary"
            return [Need(f"athena:{op}",
                         f"arn:{PARTITION}:athena:{region}:{account}:workgroup/{group}")]
        raise Unmapped(op)
    raise Unmapped(op)


def _kms_needs(op, p, region, account, response, endpoint) -> list[Need]:
    key = (response or {}).get("KeyId") or p.get("KeyId") or ""
    alias = key if key.startswith("alias/") else None
    if not key.startswith("arn:"):
        key = resolve_key(key or None, region, account, endpoint)
    ctx: list[tuple] = []
    aliases = tuple(sorted(key_aliases(key, region, endpoint)))
    ctx.append(("kms:ResourceAliases", aliases))
    if alias or (p.get("KeyId") or "").startswith("alias/"):
        ctx.append(("kms:RequestAlias", alias or p["KeyId"]))
    enc = p.get("EncryptionContext")
    if enc:
        # The key names only: iam-simulate ignores kms:EncryptionContext:<key> values (see the
        # docstring), and policies that would test them are refused as unsupported.
        ctx.append(("kms:EncryptionContextKeys", tuple(sorted(enc))))
    return [Need(f"kms:{op}", key, tuple(ctx))]


def _s3_needs(op, p) -> list[Need]:
    bucket = p.get("Bucket")
    key = p.get("Key")
    if op in ("ListObjectsV2", "ListObjects"):
        ctx = [("s3:prefix", p.get("Prefix", ""))]
        if "Delimiter" in p:
            ctx.append(("s3:delimiter", p["Delimiter"]))
        return [Need("s3:ListBucket", _s3(bucket), tuple(ctx))]
    if op == "ListObjectVersions":
        return [Need("s3:ListBucketVersions", _s3(bucket), (("s3:prefix", p.get("Prefix", "")),))]
    if op in ("HeadObject", "GetObject"):
        action = "s3:GetObjectVersion" if p.get("VersionId") else "s3:GetObject"
        return [Need(action, _s3(bucket, key))]
    if op in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        return [Need("s3:PutObject", _s3(bucket, key))]
    if op == "AbortMultipartUpload":
        return [Need("s3:AbortMultipartUpload", _s3(bucket, key))]
    if op == "CopyObject":
        src = p["CopySource"]
        if isinstance(src, dict):
            src_bucket, src_key = src["Bucket"], src["Key"]
        else:
            src_bucket, _, src_key = src.lstrip("/").partition("/")
        return [Need("s3:GetObject", _s3(src_bucket, src_key)), Need("s3:PutObject", _s3(bucket, key))]
    if op == "DeleteObject":
        action = "s3:DeleteObjectVersion" if p.get("VersionId") else "s3:DeleteObject"
        return [Need(action, _s3(bucket, key))]
    if op == "DeleteObjects":
        # Authorised per key as s3:DeleteObject (S3 API Reference, DeleteObjects, Permissions).
        return [Need("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject",
                     _s3(bucket, o["Key"])) for o in p["Delete"]["Objects"]]
    if op in ("HeadBucket",):
        return [Need("s3:ListBucket", _s3(bucket))]
    if op in ("GetBucketLocation",):
        return [Need("s3:GetBucketLocation", _s3(bucket))]
    raise Unmapped(op)


# KMS keys: the ARN and aliases of a key, looked up (unrecorded) on the endpoint the call used.
_key_cache: dict[tuple, str] = {}
_alias_cache: dict[tuple, set[str]] = {}
_kms_clients: dict[tuple, object] = {}


def _kms(region: str, endpoint: str | None):
    if (region, endpoint) not in _kms_clients:
        import boto3
        with _unrecorded():
            _kms_clients[(region, endpoint)] = boto3.client("kms", region_name=region,
                                                            endpoint_url=endpoint)
    return _kms_clients[(region, endpoint)]


def resolve_key(key_id: str | None, region: str, account: str, endpoint: str | None = None) -> str:
    if not key_id:
        # A Decrypt that failed before KMS said which key: judge it as on the stage's key.
        key_id = os.environ.get("KMS_KEY_ID") or "alias/unknown"
    if (endpoint, key_id) not in _key_cache:
        try:
            with _unrecorded():
                arn = _kms(region, endpoint).describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        except Exception:  # noqa: BLE001 - unknown key: a resource no policy names
            arn = f"arn:{PARTITION}:kms:{region}:{account}:key/unknown-{key_id.replace('/', '-')}"
        _key_cache[(endpoint, key_id)] = arn
    return _key_cache[(endpoint, key_id)]


def key_aliases(key_arn: str, region: str, endpoint: str | None = None) -> set[str]:
    if (endpoint, key_arn) not in _alias_cache:
        try:
            with _unrecorded():
                aliases = {a["AliasName"] for a in _kms(region, endpoint).list_aliases(
                    KeyId=key_arn.rsplit("/", 1)[-1])["Aliases"]}
        except Exception:  # noqa: BLE001 - no aliases known: the key is judged by its ARN only
            aliases = set()
        _alias_cache[(endpoint, key_arn)] = aliases
    return _alias_cache[(endpoint, key_arn)]


# --------------------------------------------------------------------------------------------
# The recorder
# --------------------------------------------------------------------------------------------
@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)
    unattributed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _where(self) -> str:
        frame = sys._getframe(3)
        root = str(ROOT) + os.sep
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(root) and "/deploy/iam_" not in name and "site-packages" not in name:
                return f"{name[len(root):]}:{frame.f_lineno}"
            frame = frame.f_back
        return "?"

    def on_before(self, params, model, context, **_):
        if getattr(_quiet, "on", False):
            return
        function = current_function()
        if function is None:
            with self.lock:
                self.unattributed += 1
            return
        context["iam_check"] = (function, dict(params), self._where())

    def on_after(self, http_response, parsed, model, context, **_):
        info = context.pop("iam_check", None) if isinstance(context, dict) else None
        if info is None:
            return
        function, params, where = info
        service = model.service_model.service_name
        region = context.get("iam_region") or "us-east-1"
        account = context.get("iam_account") or "123456789012"
        call = Call(function, service, model.name, [], region, account, where=where)
        try:
            call.needs = needs_for(service, model.name, params, region, account,
                                   parsed if isinstance(parsed, dict) else None,
                                   context.get("iam_endpoint"))
        except Unmapped:
            call.error = (f"no IAM mapping for {service}:{model.name}: add it to "
                          f"deploy/iam_check.py needs_for()")
        except Exception as exc:  # noqa: BLE001 - a mapping bug must not hide the call
            call.error = f"mapping {service}:{model.name} failed: {type(exc).__name__}: {exc}"
        with self.lock:
            self.calls.append(call)

    def register(self, client) -> None:
        events = client.meta.events
        region = client.meta.region_name or "us-east-1"
        endpoint = client.meta.endpoint_url

        def before(params, model, context, **kw):
            context["iam_region"] = region
            context["iam_endpoint"] = endpoint
            self.on_before(params=params, model=model, context=context)

        events.register("before-parameter-build", before, unique_id="iam-check-before")
        events.register("after-call", self.on_after, unique_id="iam-check-after")
        client._iam_before = before   # keep a strong reference

    def add_implicit(self, function: str, needs: list[Need], where: str) -> None:
        with self.lock:
            self.calls.append(Call(function, "lambda-runtime", "implicit", needs, "us-east-1",
                                   "123456789012", where=where))


RECORDER = Recorder()
_installed = False


def install() -> Recorder:
    """Hook every botocore client created from now on (boto3's and pynamodb's alike)."""
    global _installed
    if _installed:
        return RECORDER
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self, *args, **kwargs):
        client = original(self, *args, **kwargs)
        try:
            RECORDER.register(client)
        except Exception:  # noqa: BLE001 - never break a client
            pass
        return client

    botocore.session.Session.create_client = create_client
    _installed = True
    return RECORDER


# --------------------------------------------------------------------------------------------
# Policies as deployed, per stage and function
# --------------------------------------------------------------------------------------------
def _resolve_subs(value, region: str, account: str):
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return (value["Fn::Sub"].replace("${AWS::Partition}", PARTITION)
                    .replace("${AWS::Region}", region).replace("${AWS::AccountId}", account))
        if set(value) == {"Ref"} and value["Ref"] == "AWS::AccountId":
            return account
        return {k: _resolve_subs(v, region, account) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_subs(v, region, account) for v in value]
    return value


class Policies:
    def __init__(self, region: str = "us-east-1", account: str = "123456789012"):
        self.region, self.account = region, account
        self.config = infra.load_config()
        self._templates: dict[str, dict] = {}

    def template(self, stage: str) -> dict:
        if stage not in self._templates:
            self._templates[stage] = json.loads(infra.merge_template_path(stage).read_text())
        return self._templates[stage]

    def policy_file(self, stage: str, function: str) -> Path | None:
        fn = self.config["stages"][stage].get("lambda_functions", {}).get(function, {})
        name = fn.get("iam_policy_file")
        return ROOT / ".chalice" / name if name else None

    def identity(self, stage: str, function: str) -> tuple[list[dict], str]:
        """([{name, document}], where it comes from)."""
        if function == GLUE_JOB:
            role = self.template(stage)["Resources"]["GlueJobRole"]["Properties"]
            return ([{"name": p["PolicyName"],
                      "document": _resolve_subs(p["PolicyDocument"], self.region, self.account)}
                     for p in role["Policies"]],
                    f".chalice/merge-template-{stage}.json GlueJobRole")
        path = self.policy_file(stage, function)
        if path is None or not path.exists():
            return [], f"no iam_policy_file for {function} in stage {stage} (.chalice/config.json)"
        return ([{"name": path.stem, "document": json.loads(path.read_text())}],
                str(path.relative_to(ROOT)))

    def resource_policy(self, stage: str, action: str) -> dict | None:
        if action.startswith("kms:"):
            key = self.template(stage)["Resources"].get("RefreshTokenKey")
            if key:
                return _resolve_subs(key["Properties"]["KeyPolicy"], self.region, self.account)
        return None

    def principal(self, stage: str, function: str) -> str:
        role = "glue" if function == GLUE_JOB else function
        return f"arn:{PARTITION}:iam::{self.account}:role/hubspot-pipeline-{stage}-{role}"


def rename(value: str, to_stage: str, from_stage: str = "local") -> str:
    """A local-stage resource name as the same setting names it in `to_stage`."""
    out = (value.replace(f"hubspot-pipeline-{from_stage}", f"hubspot-pipeline-{to_stage}")
           .replace(f"hubspot-pipeline/{from_stage}/", f"hubspot-pipeline/{to_stage}/")
           .replace(f"hubspot_pipeline_{from_stage}", f"hubspot_pipeline_{to_stage}"))
    # Deployed lake buckets carry the account id and region (deploy/infra.py Template.bucket).
    return re.sub(rf"^(arn:aws:s3:::hubspot-pipeline-{to_stage}-lake)(?=/|$)",
                  r"\1-123456789012-us-east-1", out)


def _rename_need(need: Need, stage: str) -> Need:
    ctx = tuple((k, tuple(rename(x, stage) for x in v) if isinstance(v, tuple) else
                 (rename(v, stage) if isinstance(v, str) else v)) for k, v in need.context)
    return Need(need.action, rename(need.resource, stage), ctx)


# --------------------------------------------------------------------------------------------
# The evaluator process
# --------------------------------------------------------------------------------------------
class SimulatorMissing(RuntimeError):
    pass


def ensure_simulator() -> Path:
    """deploy/iam_sim/node_modules, installed from the lock file with npm if missing.

    Test workers start at once on a fresh clone: one `npm ci` at a time (a file lock), and the
    install counts only once its stamp is written, since `npm ci` first deletes node_modules
    and a second worker's install would pull files from under the first's evaluator."""
    import fcntl

    stamp = SIM_DIR / "node_modules" / ".installed-from-lock"
    if stamp.exists():
        return SIM_DIR
    with open(SIM_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return SIM_DIR
        try:
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=SIM_DIR,
                           check=True, timeout=600, capture_output=True)
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise SimulatorMissing(
                f"the IAM evaluator is not installed and `npm ci` in {SIM_DIR} failed ({exc}); "
                f"install Node.js 20+ and run it (./dev setup does)") from exc
        stamp.write_text("npm ci from package-lock.json\n")
    return SIM_DIR


class Evaluator:
    def __init__(self, policies: Policies | None = None):
        self.policies = policies or Policies()
        self._proc = None
        self._cache: dict[tuple, dict] = {}
        self._lock = threading.Lock()
        self._next = 0

    def _ask(self, request: dict) -> dict:
        if self._proc is None:
            ensure_simulator()
            self._proc = subprocess.Popen(["node", str(SIM_DIR / "evaluate.mjs")], cwd=SIM_DIR,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True, bufsize=1)
        self._next += 1
        request["id"] = self._next
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the IAM evaluator (deploy/iam_sim/evaluate.mjs) stopped")
        return json.loads(line)

    def decide(self, stage: str, function: str, need: Need) -> dict:
        """{'result': 'Allowed'|'ImplicitlyDenied'|'ExplicitlyDenied'|'Error'|'Unsupported', ...}"""
        key = (stage, function, need)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            docs, source = self.policies.identity(stage, function)
            if any("kms:EncryptionContext:" in json.dumps(d["document"]) for d in docs):
                answer = {"result": "Unsupported", "source": source, "errors": {
                    "message": "a condition on kms:EncryptionContext:<key> cannot be evaluated "
                               "here (deploy/iam_check.py docstring); use kms:EncryptionContextKeys"}}
            elif not docs:
                answer = {"result": "ImplicitlyDenied", "source": source}
            else:
                answer = self._ask({
                    "policies": docs, "resourcePolicy": self.policies.resource_policy(stage, need.action),
                    "principal": self.policies.principal(stage, function),
                    "account": self.policies.account, "action": need.action,
                    "resource": need.resource, "context": need.context_dict()})
                answer["source"] = source
            self._cache[key] = answer
            return answer

    def close(self) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            self._proc.wait(timeout=10)
            self._proc = None


def check(calls: list[Call], evaluator: Evaluator, stages=DEPLOYED_STAGES) -> list[str]:
    """One line per refused (function, action, resource, stage): empty when all are allowed."""
    problems: list[str] = []
    seen: set = set()
    for call in calls:
        if call.error:
            line = f"{call.function}: {call.error} (at {call.where})"
            if line not in seen:
                seen.add(line)
                problems.append(line)
            continue
        for stage in stages:
            for need in call.needs:
                n = _rename_need(need, stage)
                answer = evaluator.decide(stage, call.function, n)
                if answer["result"] == "Allowed":
                    continue
                ctx = f" with {n.context_dict()}" if n.context else ""
                why = answer["result"]
                if answer.get("errors"):
                    why += f": {answer['errors'].get('message', answer['errors'])}"
                line = (f"{call.function} (stage {stage}) may not {n.action} on {n.resource}"
                        f"{ctx}: {why} by {answer['source']} (call {call.service}."
                        f"{call.operation} at {call.where}); add the grant")
                if line not in seen:
                    seen.add(line)
                    problems.append(line)
    return problems


def implicit_needs(function: str, stage: str = "local", event: dict | None = None) -> list[Need]:
    """What Lambda itself does with the function's role on every invocation: write its logs
    to its own group, send traces (`"xray": true`), and for SQS event sources poll the queue."""
    config = infra.load_config()
    name = infra.deployed_function_name(config["app_name"], stage, function)
    group = f"arn:{PARTITION}:logs:us-east-1:123456789012:log-group:/aws/lambda/{name}"
    stream = f"{group}:log-stream:2026/01/01/[$LATEST]0123456789abcdef"
    needs = [Need("logs:CreateLogStream", stream), Need("logs:PutLogEvents", stream)]
    if config.get("xray"):
        needs += [Need("xray:PutTraceSegments", "*"), Need("xray:PutTelemetryRecords", "*")]
    arns = {r.get("eventSourceARN") for r in (event or {}).get("Records", [])
            if isinstance(r, dict) and r.get("eventSource") == "aws:sqs"}
    for arn in sorted(a for a in arns if a):
        needs += [Need(f"sqs:{a}", arn) for a in
                  ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")]
    return needs


def main(argv=None) -> int:
    """python -m deploy.iam_check ACTION RESOURCE FUNCTION [--stage dev]: one decision."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m deploy.iam_check", description=main.__doc__)
    parser.add_argument("action")
    parser.add_argument("resource")
    parser.add_argument("function")
    parser.add_argument("--stage", default="dev", choices=DEPLOYED_STAGES)
    args = parser.parse_args(argv)
    ev = Evaluator()
    try:
        answer = ev.decide(args.stage, args.function, Need(args.action, args.resource))
    finally:
        ev.close()
    print(json.dumps(answer))
    return 0 if answer["result"] == "Allowed" else 1


if __name__ == "__main__":
    sys.exit(main())
