"""Execute the notebooks and write them back with their outputs, so that a reader sees results without running them.

Usage (from the repository root, in the environment with the ``dev`` extra)::

    python notebooks/run.py              # every NN_*.ipynb in this folder, in order
    python notebooks/run.py 04 05        # only the notebooks whose names start with 04 or 05
    python notebooks/run.py --local      # ignore DASHSCOPE_API_KEY: outputs from the local service
    python notebooks/run.py --check      # execute and check the outputs, write nothing

Without ``DASHSCOPE_API_KEY`` (or with ``--local``) each notebook starts the package's local DashScope-compatible
service in its own kernel; with a key the outputs are Model Studio's. Each notebook says which in the first line of
its first output and labels its printed results.

Committed outputs must stay readable, reproducible and free of this machine's details, so before writing a notebook
this script refuses it (exit status 1, naming the notebook, the cell and the text) when an output shows an absolute
path, a host:port, an API key or an error, or when the notebook grows past ``MAX_NOTEBOOK_BYTES``. Timing metadata
is not recorded; the kernel's language version is dropped from the notebook metadata. The notebook metadata records
where the outputs came from and a hash of the code they were produced by, which the tests compare with the code.

A notebook that needs an optional package declares it in its metadata (``"dashscope_embed": {"requires":
["ray"]}``, import names); a missing one is reported before the kernel starts, with the pip command that adds it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PATTERN = "[0-9][0-9]_*.ipynb"
KERNEL = "python3"
CELL_TIMEOUT = 600  # seconds per cell; the whole set takes well under a minute without a key
MAX_NOTEBOOK_BYTES = 400_000  # on disk, outputs included
MAX_IMAGE_BYTES = 150_000  # one decoded image output
LABEL_PREFIX = "Outputs from: "  # how the first line of a notebook's first output starts
METADATA_KEY = "dashscope_embed"

# Text that must never appear in a committed output, wherever the notebooks were executed.
_FORBIDDEN = [
    (re.compile(r"(?<![\w.~])/(?:home|tmp|work|root|Users|private|var/folders|opt|srv|mnt)/"), "an absolute path"),
    (re.compile(r"\b[A-Za-z]:\\(?:Users|Windows|Temp)\\"), "an absolute path"),
    (re.compile(r"(?:\b(?:127\.0\.0\.1|0\.0\.0\.0|localhost)|\[::1\]):\d{2,5}\b"), "a host:port"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "an API key"),
]


def notebooks(selected: list[str] | None = None) -> list[Path]:
    """The numbered notebooks of this folder in name order, or those whose names start with one of ``selected``.

    Raises:
        SystemExit: a selection that matches no notebook.
    """
    found = sorted(HERE.glob(PATTERN))
    if not selected:
        return found
    chosen = [path for path in found if any(path.name.startswith(prefix) for prefix in selected)]
    unmatched = [prefix for prefix in selected if not any(path.name.startswith(prefix) for path in found)]
    if unmatched:
        raise SystemExit(f"no notebook in {HERE.name}/ starts with {', '.join(unmatched)}; "
                         f"have {', '.join(path.name for path in found)}")
    return chosen


def code_hash(nb: Any) -> str:
    """SHA-256 (hex) of the notebook's code cells' sources, in order: what the stored outputs were produced by."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode("utf-8"))
            digest.update(b"\0")
    return digest.hexdigest()


def _output_texts(output: Any) -> list[str]:
    if output.output_type == "stream":
        return [output.text]
    if output.output_type == "error":
        return [output.ename, output.evalue, *output.traceback]
    return [value for mime, value in output.get("data", {}).items()
            if isinstance(value, str) and (not mime.startswith("image/") or mime == "image/svg+xml")]


def first_output_line(nb: Any) -> str | None:
    """The first line of text the notebook's first code cell with an output printed, or None."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.get("outputs"):
            for output in cell.outputs:
                for text in _output_texts(output):
                    if text.strip():
                        return text.strip().splitlines()[0]
            return None
    return None


def problems(nb: Any, size: int | None = None, extra_forbidden: list[str] | None = None) -> list[str]:
    """What keeps an executed notebook from being committed, one message per problem (empty when it is fine).

    Checks: every code cell executed, top to bottom (``execution_count`` 1, 2, ...); no error output; no absolute
    path, host:port or API key in any output (plus the literal strings in ``extra_forbidden``, such as this
    machine's paths); no timing metadata; the first output line starts with ``LABEL_PREFIX``; images at most
    ``MAX_IMAGE_BYTES`` each and the file (``size``, bytes) at most ``MAX_NOTEBOOK_BYTES``.
    """
    found: list[str] = []
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    counts = [cell.get("execution_count") for cell in code_cells]
    if counts != list(range(1, len(code_cells) + 1)):
        found.append(f"not executed top to bottom in one run (execution counts {counts})")
    label = first_output_line(nb)
    if label is None or not label.startswith(LABEL_PREFIX):
        found.append(f"the first output line does not say where the outputs come from ({LABEL_PREFIX!r}...): "
                     f"{label!r}")
    literals = [text for text in (extra_forbidden or []) if text]
    for number, cell in enumerate(nb.cells):
        where = f"cell {number}"
        if "execution" in cell.get("metadata", {}):
            found.append(f"{where}: timing metadata")
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append(f"{where}: error output {output.ename}: {output.evalue}")
            for text in _output_texts(output):
                for pattern, what in _FORBIDDEN:
                    match = pattern.search(text)
                    if match:
                        found.append(f"{where}: {what} in an output: {_around(text, match.start(), match.end())}")
                for literal in literals:
                    at = text.find(literal)
                    if at >= 0:
                        found.append(f"{where}: this machine's {literal!r} in an output: "
                                     f"{_around(text, at, at + len(literal))}")
            for mime, value in output.get("data", {}).items():
                if mime.startswith("image/") and mime != "image/svg+xml":
                    decoded = len(base64.b64decode(value))
                    if decoded > MAX_IMAGE_BYTES:
                        found.append(f"{where}: a {mime} output of {decoded} bytes (at most {MAX_IMAGE_BYTES})")
    if size is not None and size > MAX_NOTEBOOK_BYTES:
        found.append(f"{size} bytes on disk (at most {MAX_NOTEBOOK_BYTES}): smaller images or fewer printed rows")
    return found


def _around(text: str, start: int, end: int, margin: int = 40) -> str:
    return repr(text[max(0, start - margin):end + margin])


def machine_strings() -> list[str]:
    """Literal strings of this machine that must not reach an output: the checkout, home, temp and venv paths."""
    candidates = {str(ROOT), str(Path.home()), tempfile.gettempdir(), sys.prefix, sys.base_prefix}
    key = os.environ.get("DASHSCOPE_API_KEY")
    if key:
        candidates.add(key)
    # "/" or "/tmp"-like short strings would match everywhere; the patterns above cover the common roots
    return sorted(text for text in candidates if len(text) > 4)


def missing_requirements(nb: Any) -> list[str]:
    """Import names the notebook declares in its metadata that this environment cannot import."""
    required = nb.metadata.get(METADATA_KEY, {}).get("requires", [])
    return [name for name in required if importlib.util.find_spec(name) is None]


def kernel_env(local: bool) -> dict[str, str]:
    """The kernel's environment: this one, without the API key when ``local`` is set."""
    env = dict(os.environ)
    if local:
        env.pop("DASHSCOPE_API_KEY", None)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def execute(path: Path, env: dict[str, str], timeout: int = CELL_TIMEOUT) -> Any:
    """Run one notebook from scratch in a fresh ``python3`` kernel, in its own folder; return the executed notebook.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised (the message names the cell and the traceback).
        nbclient.exceptions.CellTimeoutError: a cell ran longer than ``timeout`` seconds.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        coalesce_streams=True,
    )
    client.execute(env=env)
    return nb


def tidy(nb: Any, service: str) -> None:
    """Drop what changes from run to run or machine to machine, and record where the outputs came from."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
    nb.metadata.pop("widgets", None)
    nb.metadata["language_info"] = {"name": nb.metadata.get("language_info", {}).get("name", "python")}
    own = dict(nb.metadata.get(METADATA_KEY, {}))
    own.update({"outputs_from": service, "code_sha256": code_hash(nb)})
    nb.metadata[METADATA_KEY] = own


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (0: all written or checked, 1: a notebook failed or was refused)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--local", action="store_true", help="ignore DASHSCOPE_API_KEY: use the local service")
    parser.add_argument("--check", action="store_true", help="execute and check, but write nothing")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    args = parser.parse_args(argv)
    try:
        import nbclient  # noqa: F401 - fail here, not halfway through
        import nbformat
    except ImportError as exc:
        print(f"{exc.name} is missing: install the dev extra (pip install -e '.[dev]')", file=sys.stderr)
        return 1

    local = args.local or not os.environ.get("DASHSCOPE_API_KEY")
    service = "local" if local else "dashscope"
    env = kernel_env(local)
    literals = machine_strings()
    print(f"executing against {'the local service' if local else 'DashScope (DASHSCOPE_API_KEY is set)'}")
    failed = []
    for path in notebooks(args.names):
        missing = missing_requirements(nbformat.read(path, as_version=4))
        if missing:
            print(f"{path.name}: cannot import {', '.join(missing)}, which it declares it needs; install the extra "
                  "that provides it (see notebooks/README.md)")
            failed.append(path.name)
            continue
        started = time.perf_counter()
        try:
            nb = execute(path, env, args.timeout)
        except Exception as exc:  # noqa: BLE001 - report every notebook, then fail
            print(f"{path.name}: FAILED\n{exc}")
            failed.append(path.name)
            continue
        tidy(nb, service)
        text = nbformat.writes(nb) + "\n"
        found = problems(nb, len(text.encode("utf-8")), literals)
        seconds = time.perf_counter() - started
        if found:
            print(f"{path.name}: not written ({seconds:.1f} s):\n  " + "\n  ".join(found))
            failed.append(path.name)
            continue
        if not args.check:
            path.write_text(text, encoding="utf-8")
        print(f"{path.name}: {'checked' if args.check else 'written'} ({seconds:.1f} s, {len(text) // 1000} kB)")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
