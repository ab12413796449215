"""One wiring place (issue 13): AWS clients are created only by hubspot_app.runtime's Services,
and per-container state lives on it, not in module-level caches across the package. A short
allow-list, each entry with its reason."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Who may touch boto3 itself (clients, resources, sessions).
BOTO3_ALLOWED = {
    "hubspot_app/runtime.py": "Services creates the clients",
    "hubspot_app/ops/cli.py": "--stage names the deployed lake bucket from the operator's STS "
                              "identity, while the stage's environment (and so Services) is "
                              "still being built",
}
# Module-level state that is not a cache of AWS or vendor state, or is the wiring itself.
STATE_ALLOWED = {
    "hubspot_app/config.py": "get_settings: the frozen settings, read once (reset_settings)",
    "hubspot_app/runtime.py": "this container's Services",
    "hubspot_app/logs.py": "the redactor must mask every secret the process has seen",
    "hubspot_app/tracing.py": "the X-Ray SDK is loaded and patched once per process",
    "hubspot_app/metrics.py": "where EMF lines go (stdout; tests and the local stack capture)",
}


def _modules():
    yield ROOT / "app.py"
    yield from sorted((ROOT / "hubspot_app").rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _boto3_uses(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "boto3":
            lines.append(node.lineno)             # boto3.client(...), boto3.session...
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("boto3"):
            lines.append(node.lineno)             # from boto3 import client
    return lines


def _module_state(tree: ast.Module) -> list[str]:
    """Empty containers assigned at module level (caches to be), `global` rebinding, and
    memoizing decorators."""
    found = []
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, (ast.Dict, ast.List, ast.Set)) and not (
                getattr(value, "keys", None) or getattr(value, "elts", None)):
            found.append(f"{node.lineno}: {ast.unparse(node)[:60]}")
        elif isinstance(value, ast.Call) and ast.unparse(value.func) in (
                "dict", "list", "set", "defaultdict", "OrderedDict"):
            found.append(f"{node.lineno}: {ast.unparse(node)[:60]}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found.append(f"{node.lineno}: global {', '.join(node.names)}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [f"{node.lineno}: @{ast.unparse(d)}" for d in node.decorator_list
                      if "cache" in ast.unparse(d)]
    return found


def test_aws_clients_are_created_only_by_services():
    offenders = {}
    for path in _modules():
        lines = _boto3_uses(ast.parse(path.read_text()))
        if lines and _name(path) not in BOTO3_ALLOWED:
            offenders[_name(path)] = lines
    assert not offenders, ("take the client from hubspot_app.runtime.Services (passed in, or "
                           f"services() in a handler adapter) instead: {offenders}")


def test_no_module_level_caches_outside_services():
    offenders = {}
    for path in _modules():
        found = _module_state(ast.parse(path.read_text()))
        if found and _name(path) not in STATE_ALLOWED:
            offenders[_name(path)] = found
    assert not offenders, ("keep per-container state on hubspot_app.runtime.Services (one "
                           f"reset forgets it all): {offenders}")


def test_the_allow_lists_are_still_needed():
    """An entry whose module no longer does it goes, so the lists only shrink."""
    for allowed, check in ((BOTO3_ALLOWED, lambda t: _boto3_uses(t)),
                           (STATE_ALLOWED, lambda t: _module_state(t))):
        stale = [name for name in allowed if not check(ast.parse((ROOT / name).read_text()))]
        assert not stale, f"no longer needed, remove from the allow-list: {stale}"


def test_app_py_handlers_are_one_call_into_an_adapter():
    """The table of contents: every handler body imports from hubspot_app.handlers only."""
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        decorators = [ast.unparse(d) for d in node.decorator_list] \
            if isinstance(node, ast.FunctionDef) else []
        # Handlers only: middlewares (the error page, the log fields) wrap them all.
        if not any(d.startswith("app.") for d in decorators) or \
                any(d.startswith("app.middleware") for d in decorators):
            continue
        imported = {n.module for n in ast.walk(node) if isinstance(n, ast.ImportFrom)}
        adapters = {m for m in imported if m and m.startswith("hubspot_app.handlers.")}
        assert adapters, f"{node.name} calls no adapter in hubspot_app.handlers"
        assert imported - adapters <= {"hubspot_app.pages"}, (node.name, imported - adapters)
