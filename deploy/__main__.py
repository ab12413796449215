"""Deploy tooling (README, "Deploying").

  python -m deploy templates [--check]        write (or check) .chalice/merge-template-<stage>.json
  python -m deploy check --stage S            refuse placeholder settings (exit 2), before packaging
  python -m deploy package --stage S [OUT]    chalice package with the merge template + Glue assets
                                              (function zip + dependency layer, deploy/package.py)
  python -m deploy companion --stage S [FILE] the standalone stack for `chalice deploy` users
  python -m deploy upload-glue --stage S      upload the Glue script and library to the lake bucket
  python -m deploy fix-event-sources --stage S   after `chalice deploy`: partial batch responses
  python -m deploy readme [--check]           write (or check) README's scope -> streams -> tables
  python -m deploy athena-views --stage S     after a curate run: the analyst models as Athena views
  python -m deploy leftovers --stage S [FILE]  after a failed first create: retained resources
                                              in the way (FILE: --resources-to-import entries)
"""
from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from . import check, infra, package, readme


def cmd_templates(args) -> int:
    stale = []
    for stage in args.stages or infra.STAGES:
        text = infra.render(infra.build(stage))
        path = infra.merge_template_path(stage)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(infra.ROOT)))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(infra.ROOT)}")
    if stale:
        print("out of date (run: python -m deploy templates): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


def glue_artifacts(out: Path) -> dict[str, Path]:
    """glue/curate_job.py and a zip of the hubcurate library (for --extra-py-files)."""
    out.mkdir(parents=True, exist_ok=True)
    script = out / Path(infra.GLUE_SCRIPT).name
    shutil.copyfile(infra.ROOT / infra.GLUE_SCRIPT, script)
    library = out / (Path(infra.GLUE_LIBRARY).name + ".zip")
    src = infra.ROOT / infra.GLUE_LIBRARY
    with zipfile.ZipFile(library, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(src.rglob("*.py")):
            zf.write(f, f.relative_to(src.parent).as_posix())
    return {"script": script, "library": library}


def chalice_package(stage: str, out: Path, merge_template: Path | None = None) -> Path:
    merge_template = merge_template or infra.merge_template_path(stage)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    chalice = Path(sys.executable).parent / "chalice"
    # One chalice package at a time per tree: chalice writes its zip cache in .chalice/deployments
    # in place, and a second run (a pytest-xdist worker, the bench) can read a half-written zip.
    lock_path = infra.ROOT / ".chalice" / "deployments" / ".package.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        res = subprocess.run([str(chalice), "package", "--stage", stage, "--merge-template",
                              str(merge_template), str(out)], cwd=infra.ROOT, env=env,
                             capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"chalice package --stage {stage} failed:\n{res.stdout}{res.stderr}")
    package.finish(out)  # the project's code out of the layer, bytecode compiled (deploy/package.py)
    return out / "sam.json"


def cmd_check(args) -> int:
    found = check.problems(args.stage, chalice_deploy=getattr(args, "chalice_deploy", False))
    for line in found:
        print(f"deploy check --stage {args.stage}: {line}", file=sys.stderr)
    if found:
        return 2
    print(f"stage {args.stage}: settings ready to deploy")
    return 0


def cmd_package(args) -> int:
    if cmd_check(args) != 0:
        print("nothing packaged: fix the settings above, then run python -m deploy templates",
              file=sys.stderr)
        return 2
    out = Path(args.out or infra.ROOT / "build" / "package" / args.stage)
    text = infra.render(infra.build(args.stage))
    if infra.merge_template_path(args.stage).read_text() != text:
        print("the merge template is out of date: run python -m deploy templates",
              file=sys.stderr)
        return 1
    sam = chalice_package(args.stage, out)
    glue_artifacts(out / "glue")
    print(f"{sam}\n{out / package.FUNCTION_ZIP}\n{out / package.LAYER_ZIP}\n{out / 'glue'}")
    for line in package.sizes(out).lines():
        print(f"  {line}", file=sys.stderr)
    return 0


def cmd_companion(args) -> int:
    text = infra.render(infra.companion(args.stage))
    if args.out:
        Path(args.out).write_text(text)
        print(args.out)
    else:
        sys.stdout.write(text)
    return 0


def upload_glue(stage: str, s3=None) -> dict[str, str]:
    """Put the Glue job's script and library where the template's job definition reads them."""
    import tempfile

    import boto3
    t = infra.Template(stage)
    assets = t.glue_assets()
    if any("${" in v for v in assets.values()):
        # The bucket's name holds the account id and region (deploy/infra.py Template.bucket).
        session = boto3.session.Session()
        account = boto3.client("sts").get_caller_identity()["Account"]
        assets = {k: v.replace("${AWS::AccountId}", account)
                  .replace("${AWS::Region}", session.region_name or "us-east-1")
                  for k, v in assets.items()}
    s3 = s3 or boto3.client("s3")
    with tempfile.TemporaryDirectory() as tmp:
        files = glue_artifacts(Path(tmp))
        for key in ("script", "library"):
            bucket, _, path = assets[key][len("s3://"):].partition("/")
            s3.upload_file(str(files[key]), bucket, path)
    return assets


def cmd_upload_glue(args) -> int:
    for url in upload_glue(args.stage).values():
        print(url)
    return 0


def fix_event_sources(stage: str, lambda_client=None) -> list[str]:
    """`chalice deploy` creates SQS event source mappings without ReportBatchItemFailures; the
    functions answer with partial batch responses, so turn it on (idempotent; run after every
    `chalice deploy`)."""
    import boto3
    app = infra.introspect_app(stage)
    client = lambda_client or boto3.client("lambda")
    changed = []
    for fn in app["functions"]:
        if fn["kind"] != "sqs":
            continue
        name = infra.deployed_function_name(app["app_name"], stage, fn["name"])
        for mapping in client.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]:
            if "ReportBatchItemFailures" not in (mapping.get("FunctionResponseTypes") or []):
                client.update_event_source_mapping(
                    UUID=mapping["UUID"], FunctionResponseTypes=["ReportBatchItemFailures"])
                changed.append(f"{name} <- {mapping['EventSourceArn']}")
    return changed


def cmd_fix_event_sources(args) -> int:
    for line in fix_event_sources(args.stage) or ["nothing to change"]:
        print(line)
    return 0


def cmd_athena_views(args) -> int:
    """Create the analyst models as Athena views (deploy/analyst_sql.py), after a curate run."""
    import boto3

    from . import analyst_sql
    env = infra.stage_env(args.stage)
    database, group = env.get(infra.GLUE_DATABASE_VAR), env.get(infra.ATHENA_WORKGROUP_VAR)
    if not database or not group:
        print(f"stage {args.stage} has no {infra.GLUE_DATABASE_VAR} or {infra.ATHENA_WORKGROUP_VAR}")
        return 1
    done = analyst_sql.create_views(database, group, boto3.client("athena"), boto3.client("glue"))
    for name, outcome in done:
        print(f"  {name:<32} {outcome}")
    return 0 if all(o == "created" or o.startswith("skipped") for _, o in done) else 1


def cmd_leftovers(args) -> int:
    import json

    from . import leftovers
    found = leftovers.find(args.stage)
    for line in leftovers.report(args.stage, found):
        print(line)
    holding = [f.import_entry() for f in found if not f.empty]
    if holding:
        out = Path(args.out or infra.ROOT / "build" / f"resources-to-import-{args.stage}.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(holding, indent=2) + "\n")
        print(f"  {out}")
    return 1 if any(f.blocks_retry for f in found) else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("templates")
    p.add_argument("--check", action="store_true")
    p.add_argument("stages", nargs="*")
    p.set_defaults(func=cmd_templates)
    p = sub.add_parser("readme", help="README's scope table from hubspot_app/data_catalog.py")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=lambda a: readme.main(a.check))
    p = sub.add_parser("check", help="refuse placeholder settings before packaging")
    p.add_argument("--stage", required=True, choices=check.DEPLOYED)
    p.add_argument("--chalice-deploy", action="store_true",
                   help="for `chalice deploy`: settings the packaged template fills count too")
    p.set_defaults(func=cmd_check)
    for name, func in (("package", cmd_package), ("companion", cmd_companion),
                       ("upload-glue", cmd_upload_glue),
                       ("fix-event-sources", cmd_fix_event_sources),
                       ("athena-views", cmd_athena_views),
                       ("leftovers", cmd_leftovers)):
        p = sub.add_parser(name)
        p.add_argument("--stage", required=True, choices=infra.STAGES)
        if name in ("package", "companion", "leftovers"):
            p.add_argument("out", nargs="?")
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
