"""Throttling for the API Gateway stage Chalice creates, stricter on `/install`, and an optional
AWS WAF rate-based rule on `/install` per client IP (issue 14: the install link must not be
floodable; `/install` stores nothing now, its state is signed into the cookie, but every request
is still a Lambda invocation that takes concurrency from the callback and the webhook).

- Stage and method throttling: `MethodSettings` of the `AWS::Serverless::Api` Chalice generates
  (`RestAPI`), passed on to its `AWS::ApiGateway::Stage`. A `MethodSetting` names a method by
  `ResourcePath` with each `/` written `~1` and by `HttpMethod`; `/*` with `*` is every method
  of the stage. `ThrottlingRateLimit` is the steady requests per second, `ThrottlingBurstLimit`
  the bucket size (AWS CloudFormation Template Reference, "AWS::ApiGateway::Stage
  MethodSetting", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-stage-methodsetting.html;
  AWS SAM, "AWS::Serverless::Api" MethodSettings). Past them API Gateway answers 429 without
  invoking the function.
- WAF: an `AWS::WAFv2::WebACL` (Scope `REGIONAL`, which is what API Gateway REST API stages
  take) with one `RateBasedStatement` (`Limit` requests per `EvaluationWindowSec` per
  `AggregateKeyType: IP`, narrowed by a `ScopeDownStatement` to URI paths ending in `/install`,
  so HubSpot's webhook deliveries from a few IPs are never counted), answering 429; and an
  `AWS::WAFv2::WebACLAssociation` whose `ResourceArn` is the stage,
  `arn:<partition>:apigateway:<region>::/restapis/<api id>/stages/<stage>` (AWS WAF API
  Reference, "AssociateWebACL", https://docs.aws.amazon.com/waf/latest/APIReference/API_AssociateWebACL.html;
  CloudFormation, "AWS::WAFv2::WebACL RateBasedStatement",
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-wafv2-webacl-ratebasedstatement.html).

Settings (every stage of .chalice/config.json): API_THROTTLE_RATE_LIMIT / _BURST_LIMIT (every
method), INSTALL_THROTTLE_RATE_LIMIT / _BURST_LIMIT (GET /install, at most the stage's),
INSTALL_WAF_RATE_LIMIT (requests per 5 minutes per IP on /install; empty: no web ACL).
"""
from __future__ import annotations

API = "RestAPI"                       # the logical id Chalice gives its API
INSTALL_PATH = "/install"
RATE, BURST = "API_THROTTLE_RATE_LIMIT", "API_THROTTLE_BURST_LIMIT"
INSTALL_RATE, INSTALL_BURST = "INSTALL_THROTTLE_RATE_LIMIT", "INSTALL_THROTTLE_BURST_LIMIT"
WAF_LIMIT = "INSTALL_WAF_RATE_LIMIT"
DEFAULTS = {RATE: "50", BURST: "100", INSTALL_RATE: "2", INSTALL_BURST: "10"}
WAF_WINDOW_SECONDS = 300
WAF_MIN_LIMIT = 10                    # RateBasedStatement.Limit: 10 .. 2,000,000,000
# API Gateway's default account-level quota per Region; a stage cannot exceed it.
ACCOUNT_RATE, ACCOUNT_BURST = 10_000, 5_000


def _number(env: dict, var: str, integer: bool) -> float:
    raw = (env.get(var) or DEFAULTS.get(var, "")).strip()
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ValueError(f"{var}={raw!r}: must be a {'whole ' if integer else ''}number "
                         f"(.chalice/config.json)") from None
    if value <= 0:
        raise ValueError(f"{var}={raw!r}: must be greater than 0 (.chalice/config.json)")
    return value


def resource_path(path: str) -> str:
    """A MethodSetting's ResourcePath: `/install` -> `/~1install`."""
    return "/" + path.replace("/", "~1")


def throttling(env: dict) -> list[dict]:
    """The stage's MethodSettings: every method, then GET /install (stricter)."""
    rate, burst = _number(env, RATE, False), int(_number(env, BURST, True))
    install_rate = _number(env, INSTALL_RATE, False)
    install_burst = int(_number(env, INSTALL_BURST, True))
    if rate > ACCOUNT_RATE or burst > ACCOUNT_BURST:
        raise ValueError(f"{RATE}/{BURST} = {rate:g}/{burst}: above API Gateway's account "
                         f"quota of {ACCOUNT_RATE}/{ACCOUNT_BURST} per Region")
    if install_rate > rate or install_burst > burst:
        raise ValueError(f"{INSTALL_RATE}/{INSTALL_BURST} = {install_rate:g}/{install_burst}: "
                         f"/install must be at most as permissive as the stage "
                         f"({RATE}/{BURST} = {rate:g}/{burst})")
    return [
        {"ResourcePath": "/*", "HttpMethod": "*",
         "ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst},
        {"ResourcePath": resource_path(INSTALL_PATH), "HttpMethod": "GET",
         "ThrottlingRateLimit": install_rate, "ThrottlingBurstLimit": install_burst},
    ]


def waf(env: dict, prefix: str, stage_name: str) -> dict[str, dict]:
    """The web ACL and its association with the API stage; empty when WAF is off."""
    raw = (env.get(WAF_LIMIT) or "").strip()
    if not raw:
        return {}
    if not stage_name.isalnum():
        # SAM names the stage <Api><StageName>Stage only for alphanumeric names, else a hash
        # (samtranslator/model/api/api_generator.py, _construct_stage).
        raise ValueError(f"api_gateway_stage {stage_name!r}: use letters and digits only")
    limit = int(_number(env, WAF_LIMIT, True))
    if limit < WAF_MIN_LIMIT:
        raise ValueError(f"{WAF_LIMIT}={raw!r}: AWS WAF rate-based rules need a limit of at "
                         f"least {WAF_MIN_LIMIT} requests per {WAF_WINDOW_SECONDS} s")
    metric = prefix.replace("-", "")
    acl = {"Type": "AWS::WAFv2::WebACL", "Properties": {
        "Name": f"{prefix}-api",
        # WAF descriptions allow letters, digits, spaces and + = : # @ / \ - , . only.
        "Description": f"{prefix}: at most {limit} GET {INSTALL_PATH} per client IP per "
                       f"{WAF_WINDOW_SECONDS // 60} minutes",
        "Scope": "REGIONAL",
        "DefaultAction": {"Allow": {}},
        "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                             "MetricName": f"{metric}Api"},
        "Rules": [{
            "Name": "install-flood-per-ip",
            "Priority": 0,
            "Action": {"Block": {"CustomResponse": {"ResponseCode": 429}}},
            "Statement": {"RateBasedStatement": {
                "Limit": limit, "EvaluationWindowSec": WAF_WINDOW_SECONDS,
                "AggregateKeyType": "IP",
                "ScopeDownStatement": {"ByteMatchStatement": {
                    "FieldToMatch": {"UriPath": {}},
                    # The path as API Gateway routes it: percent-decoded first.
                    "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}],
                    "PositionalConstraint": "ENDS_WITH",
                    "SearchString": INSTALL_PATH}}}},
            "VisibilityConfig": {"SampledRequestsEnabled": True,
                                 "CloudWatchMetricsEnabled": True,
                                 "MetricName": f"{metric}InstallFloodPerIp"}}],
        "Tags": [{"Key": "app", "Value": "hubspot-pipeline"}]}}
    association = {
        "Type": "AWS::WAFv2::WebACLAssociation",
        # The stage SAM generates from the Api (logical id <Api><StageName>Stage) must exist.
        "DependsOn": [f"{API}{stage_name}Stage"],
        "Properties": {
            "ResourceArn": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::"
                                       f"/restapis/${{{API}}}/stages/{stage_name}"},
            "WebACLArn": {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}}}
    return {"ApiWebAcl": acl, "ApiWebAclAssociation": association}


def patches(env: dict, prefix: str, stage_name: str) -> dict[str, dict]:
    """Merge-template entries: the throttled API (a patch of Chalice's) and the WAF resources."""
    return {API: {"Properties": {"MethodSettings": throttling(env)}},
            **waf(env, prefix, stage_name)}
