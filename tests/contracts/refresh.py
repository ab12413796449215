"""Re-vendor the API documents listed in tests/contracts/SOURCES and print what changed.

    .venv/bin/python -m tests.contracts.refresh [--mirrors /work/.mirror] [--check]

Each GitHub source is read from a local bare mirror (`<mirrors>/<owner>+<name>/repo`, as the
search tool's `fetch github:<owner>/<name>` leaves it) at its HEAD; `pypi:<package>` sources are
read from the package installed in .venv-connector. A source whose mirror is absent keeps its
vendored copy and says so. --check changes nothing and exits 1 if a refresh would change files.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCES = HERE / "SOURCES"
HEADER = ("# Vendored vendor API documents: local file, repository, path in it, commit, commit date.\n"
          "# Refresh: .venv/bin/python -m tests.contracts.refresh  (reads the mirrors `fetch` "
          "brings to /work/.mirror)\nfile\trepository\tpath\tcommit\tdate\n")


def read_sources() -> list[dict]:
    rows = []
    for line in SOURCES.read_text().splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("file\t"):
            continue
        file, repo, path, commit, date = line.split("\t")
        rows.append({"file": file, "repository": repo, "path": path, "commit": commit, "date": date})
    return rows


def write_sources(rows: list[dict]) -> None:
    SOURCES.write_text(HEADER + "".join(
        "\t".join(r[k] for k in ("file", "repository", "path", "commit", "date")) + "\n"
        for r in rows))


def _git(mirror: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(mirror), *args], check=True, capture_output=True,
                          text=True).stdout


def fetch_one(row: dict, mirrors: Path) -> tuple[str, str, str] | str:
    """(text, commit, date) of the source now, or a sentence saying why it was not read."""
    repo = row["repository"]
    if repo.startswith("pypi:"):
        package = repo[len("pypi:"):]
        site = next((ROOT / ".venv-connector" / "lib").glob("python*/site-packages"), None)
        dist = next(site.glob(package.replace("-", "_") + "-*.dist-info"), None) if site else None
        if dist is None:
            return f"{package} is not installed in .venv-connector (./dev setup)"
        version = dist.name[len(package) + 1:-len(".dist-info")]
        return (site / row["path"]).read_text(), version, "-"
    mirror = mirrors / repo.replace("/", "+") / "repo"
    if not mirror.is_dir():
        return f"no mirror at {mirror} (fetch github:{repo} first)"
    log = _git(mirror, "log", "-1", "--format=%H %cs", "HEAD", "--", row["path"]).split()
    if not log:
        return f"{row['path']} is not in {repo} at HEAD"
    return _git(mirror, "show", f"HEAD:{row['path']}"), log[0], log[1]


def operations(text: str, name: str) -> set[str]:
    doc = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    paths = (doc or {}).get("paths") or {}
    return {f"{m.upper()} {p}" for p, ops in paths.items() for m in ops
            if m in ("get", "put", "post", "delete", "patch", "head", "options")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--check", action="store_true", help="report only; exit 1 if anything changed")
    args = ap.parse_args(argv)
    rows, changed = read_sources(), 0
    for row in rows:
        got = fetch_one(row, args.mirrors)
        if isinstance(got, str):
            print(f"kept     {row['file']}: {got}")
            continue
        text, commit, date = got
        target = HERE / row["file"]
        old = target.read_text() if target.exists() else ""
        if old == text:
            print(f"same     {row['file']} ({commit[:12]})")
            row["commit"], row["date"] = commit, date
            continue
        changed += 1
        before, after = operations(old, row["file"]) if old else set(), operations(text, row["file"])
        print(f"changed  {row['file']}: {row['commit'][:12]} -> {commit[:12]} ({date}), "
              f"{len(old)} -> {len(text)} chars")
        for op in sorted(after - before):
            print(f"           + {op}")
        for op in sorted(before - after):
            print(f"           - {op}")
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            row["commit"], row["date"] = commit, date
    if not args.check:
        write_sources(rows)
    print(f"{changed} document(s) changed" + (" (nothing written: --check)" if args.check else ""))
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
