"""What each Lambda function imports at cold start, read from app.py.

Chalice makes one Lambda function for all routes (`api_handler`) and one per event handler.
A cold start imports app.py (shared by all), then the function's first event runs the imports
inside its handler body. `lazy_imports()` finds those per function, from app.py's syntax tree,
so the bench and the tests follow app.py as handlers are added.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_EVENT_DECORATORS = {"on_sqs_message", "schedule", "on_s3_event", "on_sns_message",
                     "on_cw_event", "lambda_function", "on_kinesis_record",
                     "on_dynamodb_record", "on_ws_message", "on_ws_connect",
                     "on_ws_disconnect"}


def _decorator_target(dec: ast.expr) -> tuple[str, str | None] | None:
    """@app.route(...) -> ("route", None); @app.on_sqs_message(..., name="x") -> (kind, "x")."""
    call = dec if isinstance(dec, ast.Call) else None
    func = call.func if call else dec
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == "app"):
        return None
    name = None
    if call:
        for kw in call.keywords:
            if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                name = kw.value.value
    return func.attr, name


def lazy_imports(app_path: Path = ROOT / "app.py", routes: bool = False) -> dict[str, list[str]]:
    """{lambda function name: modules its handler bodies import}, "api_handler" for routes
    (with routes=True, also "api_handler GET /path" per route: one route's first request)."""
    tree = ast.parse(app_path.read_text())
    out: dict[str, set[str]] = {}
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for dec in node.decorator_list:
            target = _decorator_target(dec)
            if target is None:
                continue
            kind, name = target
            if kind in ("route", "authorizer"):
                function = "api_handler"
                if routes and kind == "route" and isinstance(dec, ast.Call) and dec.args:
                    methods = [m.value for kw in dec.keywords if kw.arg == "methods"
                               for m in getattr(kw.value, "elts", [])] or ["GET"]
                    path = getattr(dec.args[0], "value", "?")
                    route_mods = out.setdefault(f"api_handler {'|'.join(methods)} {path}", set())
                    route_mods.update(_imports_in(node))
            elif kind in _EVENT_DECORATORS:
                function = name or node.name
            else:
                continue
            out.setdefault(function, set()).update(_imports_in(node))
    return {k: sorted(v) for k, v in sorted(out.items())}


def _imports_in(node: ast.AST) -> set[str]:
    mods: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Import):
            mods.update(a.name for a in inner.names)
        elif isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
            mods.add(inner.module)
    return mods


_PROBE = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import app
t1 = time.perf_counter()
for m in sys.argv[1:]:
    __import__(m)
t2, c2 = time.perf_counter(), time.process_time()
print("@@PROBE@@" + json.dumps({"app_s": t1 - t0, "handler_s": t2 - t1, "total_s": t2 - t0,
                                "cpu_s": c2 - c0, "modules": sorted(sys.modules)}))
"""


def probe(modules: list[str], env: dict[str, str], importtime: bool = False,
          cwd: Path = ROOT, sys_path: list[str] | None = None) -> dict:
    """Cold-import app.py then `modules` in a fresh interpreter; timings and sys.modules.
    With sys_path (the packaged code, deploy/package.py lambda_sys_path): an isolated
    interpreter (-I -S, no site-packages) that writes no bytecode (-B: Lambda's code is
    read-only), importing only from those directories and the standard library."""
    flags, code = [], _PROBE
    if sys_path is not None:
        flags = ["-I", "-S", "-B"]
        code = f"import sys; sys.path[:0] = {sys_path!r}\n" + _PROBE
    cmd = [sys.executable, *flags] + (["-X", "importtime"] if importtime else []) + ["-c", code, *modules]
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    line = [x for x in res.stdout.splitlines() if x.startswith("@@PROBE@@")]
    if res.returncode != 0 or not line:
        raise RuntimeError(f"probe {modules} failed:\n{res.stderr[-3000:]}")
    out = json.loads(line[-1][len("@@PROBE@@"):])
    if importtime:
        out["importtime"] = res.stderr
    return out


def probe_env(stage: str = "dev") -> dict[str, str]:
    """The stage's environment, plus what a subprocess needs, on the source tree."""
    from .infra import stage_env
    return {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'vendor'}",
            "PYTHONDONTWRITEBYTECODE": "1", **stage_env(stage)}


def lambda_env(stage: str, task: Path, function: str = "api_handler") -> dict[str, str]:
    """The stage's environment plus the variables Lambda's runtime sets that change what the
    code does at import (LAMBDA_TASK_ROOT puts the X-Ray SDK in its Lambda mode, with no
    sampling client), as https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
    lists them (reserved variables). The credentials are dummies: nothing is called."""
    from .infra import stage_env
    return {"PATH": os.environ.get("PATH", ""), **stage_env(stage),
            "LAMBDA_TASK_ROOT": str(task),
            "AWS_LAMBDA_FUNCTION_NAME": function, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "_HANDLER": "app.app", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_ACCESS_KEY_ID": "bench-not-a-key", "AWS_SECRET_ACCESS_KEY": "bench-not-a-secret",
            "TZ": ":UTC"}
