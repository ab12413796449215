"""Cold import time of each Lambda function on the packaged code, as a ratio of a bare
`import boto3` measured in the same run (machines here are shared and noisy: compare ratios, not
seconds), against issue 14's target (<= 1.5x), with the package sizes against Lambda's limits.

The code is what `python -m deploy package` ships (deploy/package.py): the function zip unpacked
as /var/task, the layer as /opt, sys.path as Lambda's Python runtime sets it, Lambda's reserved
environment variables set (the X-Ray SDK behaves differently in Lambda), an isolated interpreter
that writes no bytecode (Lambda's code directories are read-only). The baseline imports boto3 from
the same layer the same way. A function's cold import = `import app` (Lambda's init) + the imports
inside its handler body (its first event); routes share `api_handler`, each route's first request
is listed too. Every sample is a fresh interpreter; baseline and functions are interleaved round
by round; medians are compared. `-X importtime` (one extra run each) names the slowest modules.

--tracing also measures the tracing options on the same code (issue 14): what each costs at
import, and what the kept one (hubspot_app/tracing.py) pays later at the first traced call.

    ./dev bench cold_start [--rounds 7] [--stage dev] [--top 3] [--package DIR] [--tracing]
                           [--powertools DIR]   (DIR: pip install --target DIR aws-lambda-powertools)
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy import package as pkg  # noqa: E402 - after the sys.path set-up above
from deploy.lambda_imports import lambda_env, lazy_imports, probe  # noqa: E402 - after the sys.path set-up

TARGET = 1.5


def timed(code: str, env: dict, sys_path: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds `code` takes in a fresh isolated interpreter on the packaged code."""
    src = (f"import sys, time; sys.path[:0] = {sys_path!r}\n"
           f"t, c = time.perf_counter(), time.process_time()\n{code}\n"
           "print('@@', time.perf_counter() - t, time.process_time() - c)")
    res = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", src], env=env, cwd=cwd,
                         capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"{code!r} failed:\n{res.stderr[-2000:]}")
    wall, cpu = res.stdout.split("@@")[-1].split()
    return float(wall), float(cpu)


def slowest_added(importtime: str, top: int, skip: set[str]) -> list[tuple[str, float]]:
    """Top-level (cumulative) modules from -X importtime output, slowest first."""
    rows = []
    for line in importtime.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        # depth 1 (top level) and 2 (what app.py itself imports), minus app.py's own line
        if m and len(m.group(3)) <= 3 and m.group(4) not in skip:
            rows.append((m.group(4), int(m.group(2)) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


def tracing_options(powertools: str | None) -> dict[str, str]:
    """Code per option; each imports what every function imports anyway (boto3, requests)."""
    sdk = ("from aws_xray_sdk.core import patch, xray_recorder\n"
           "xray_recorder.configure(service='bench', context_missing='IGNORE_ERROR')\n")
    lazy = "from hubspot_app import tracing\ntracing.configure_tracing()\n"
    options = {
        "none (Lambda active tracing only: function segment, no subsegments)":
            "import boto3, requests",
        "aws-xray-sdk at import, patch boto3+botocore+requests (before)":
            "import boto3, requests\n" + sdk + "patch(['boto3', 'botocore', 'requests'])",
        "aws-xray-sdk at import, patch botocore only":
            "import boto3, requests\n" + sdk + "patch(['botocore'])",
        "lazy, kept: at import (arms botocore + requests)": "import boto3, requests\n" + lazy,
        "lazy, kept: import + the first traced call loads the SDK":
            "import boto3, requests\n" + lazy + "tracing.load_sdk()",
    }
    if powertools:
        options["Powertools Tracer() (auto_patch)"] = (
            f"sys.path.append({powertools!r})\nimport boto3, requests\n"
            "from aws_lambda_powertools import Tracer\nTracer(service='bench')")
    return options


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--stage", default="dev")
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--package", help="a `python -m deploy package` output dir (else built)")
    ap.add_argument("--tracing", action="store_true", help="also measure the tracing options")
    ap.add_argument("--powertools", help="a dir holding aws_lambda_powertools, for --tracing")
    args = ap.parse_args(argv)

    work = ROOT / "build" / "bench" / args.stage
    out = Path(args.package) if args.package else work / "package"
    if not args.package:
        from deploy.__main__ import chalice_package
        print(f"packaging stage {args.stage} (chalice package + deploy/package.py) ...", flush=True)
        chalice_package(args.stage, out)
    sizes = pkg.sizes(out)
    task, opt = pkg.unpack(out, work / "lambda")
    sys_path = pkg.lambda_sys_path(task, opt)

    functions = {"(app.py alone)": [], **lazy_imports(routes=True)}
    env = {fn: lambda_env(args.stage, task, fn.split()[0] if fn[0] != "(" else "api_handler")
           for fn in functions}
    base_env = lambda_env(args.stage, task)
    options = tracing_options(args.powertools) if args.tracing else {}
    timed("import boto3", base_env, sys_path, task)  # warm the OS file cache once, for all alike
    base: list[tuple[float, float]] = []
    samples: dict[str, list[tuple[float, float]]] = {fn: [] for fn in functions}
    opt_samples: dict[str, list[tuple[float, float]]] = {name: [] for name in options}
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        base.append(timed("import boto3", base_env, sys_path, task))
        for fn, mods in functions.items():
            got = probe(mods, env[fn], cwd=task, sys_path=sys_path)
            samples[fn].append((got["total_s"], got["cpu_s"]))
        for name, code in options.items():
            opt_samples[name].append(timed(code, base_env, sys_path, task))

    def med(rows: list[tuple[float, float]], i: int) -> float:
        return statistics.median(r[i] for r in rows)
    bw, bc = med(base, 0), med(base, 1)
    print(f"packaged code ({out}), stage {args.stage}, python {sys.version.split()[0]}")
    for line in sizes.lines():
        print(f"  {line}")
    print(f"cold import, median of {args.rounds} interleaved fresh interpreters each "
          f"({time.perf_counter() - t0:.0f} s); verdict on CPU time (the interpreter's own "
          "work: on a shared machine wall time also counts waiting for a core), wall alongside")
    print(f"baseline: import boto3 = {bc * 1000:.0f} ms CPU, {bw * 1000:.0f} ms wall (medians)")
    print(f"{'function':36s} {'CPU ms':>6s} {'x boto3':>7s} {'target':>6s} {'result':>6s} "
          f"{'wall ms':>7s} {'wall x':>6s}  slowest imports it adds")
    skip = {"encodings", "site", "_frozen_importlib_external", "app"}
    failed = 0
    for fn, mods in functions.items():
        cpu, wall = med(samples[fn], 1), med(samples[fn], 0)
        slow = slowest_added(probe(mods, env[fn], importtime=True, cwd=task,
                                   sys_path=sys_path)["importtime"], args.top, skip)
        slow_s = ", ".join(f"{name} {sec * 1000:.0f} ms" for name, sec in slow)
        ok = cpu / bc <= TARGET
        failed += not ok
        print(f"{fn:36s} {cpu * 1000:6.0f} {cpu / bc:7.2f} {TARGET:6.2f} {'PASS' if ok else 'FAIL':>6s} "
              f"{wall * 1000:7.0f} {wall / bw:6.2f}  {slow_s}")
    if options:
        print("tracing options (each with boto3 + requests imported, as every function does):")
        for name in options:
            cpu, wall = med(opt_samples[name], 1), med(opt_samples[name], 0)
            print(f"  {name:68s} {cpu / bc:5.2f} x boto3 CPU, {wall / bw:5.2f} wall")
    print(f"{len(functions) - failed} of {len(functions)} functions within {TARGET}x; "
          "function zip " + ("PASS" if sizes.function_zipped <= pkg.FUNCTION_ZIP_TARGET else "FAIL"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
