"""Cold import time of each Lambda function, as a ratio of a bare `import boto3` measured in
the same run (machines here are shared and noisy: compare ratios, not seconds).

A function's cold import = `import app` (what Lambda's init does) + the imports inside its
handler body (what its first event does); routes share the `api_handler` function and each
route's first request is listed too. Every sample is a fresh interpreter; samples of the
baseline and of the functions are interleaved round by round, and the median is reported.
`-X importtime` (one extra run per function) names the slowest modules the function adds.

    .venv/bin/python bench/cold_start.py [--rounds 7] [--stage dev] [--top 3]
    ./dev bench cold_start
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

from deploy.lambda_imports import lazy_imports, probe, probe_env  # noqa: E402 - after the sys.path set-up above


def baseline_once(env: dict) -> float:
    code = ("import time; t=time.perf_counter(); import boto3; "
            "print('@@', time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return float(out.split("@@")[-1])


def slowest_added(importtime: str, top: int, skip: set[str]) -> list[tuple[str, float]]:
    """Top-level (cumulative) modules from -X importtime output, slowest first."""
    rows = []
    for line in importtime.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        # depth 1 (top level) and 2 (what app.py itself imports), minus app.py's own line
        if m and len(m.group(3)) <= 3 and m.group(4) not in skip:
            rows.append((m.group(4), int(m.group(2)) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--stage", default="dev")
    ap.add_argument("--top", type=int, default=3)
    args = ap.parse_args(argv)

    env = probe_env(args.stage)
    functions = {"(app.py alone)": [], **lazy_imports(routes=True)}
    probe(["boto3"], env)  # warm the OS file cache once, for everyone alike
    base, samples = [], {fn: [] for fn in functions}
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        base.append(baseline_once(env))
        for fn, mods in functions.items():
            samples[fn].append(probe(mods, env)["total_s"])
    b = statistics.median(base)
    print(f"cold import, median of {args.rounds} fresh interpreters each, stage {args.stage}, "
          f"python {sys.version.split()[0]} ({time.perf_counter() - t0:.0f} s)")
    print(f"baseline: import boto3 = {b * 1000:.0f} ms median, {min(base) * 1000:.0f} ms min "
          f"(x boto3: median ratio; min x: ratio of the minima)")
    print(f"{'function':36s} {'ms':>5s} {'x boto3':>7s} {'min x':>6s}  slowest imports it adds")
    skip = {"encodings", "site", "_frozen_importlib_external", "app"}
    for fn, mods in functions.items():
        m = statistics.median(samples[fn])
        slow = slowest_added(probe(mods, env, importtime=True)["importtime"], args.top, skip)
        slow_s = ", ".join(f"{name} {sec * 1000:.0f} ms" for name, sec in slow)
        lo = min(samples[fn]) / min(base)
        print(f"{fn:36s} {m * 1000:5.0f} {m / b:7.2f} {lo:6.2f}  {slow_s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
