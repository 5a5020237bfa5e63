"""The work directory ``OUTPUT.parts`` of a file-to-Parquet job: its files, its manifest, and what is finished.

Layout: ``manifest.json`` (the job key and the options that decide the output), ``chunk-<start>.journal``
(results of an unfinished chunk, see ``journal``), ``part-<start>-<end>.parquet`` (a finished chunk, see
``parquet``). Every file that must survive power loss is written to a temporary name, fsynced and renamed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import InvalidInputError
from .errors import BulkJobError
from .journal import journal_name, read_journal

__all__ = [
    "META_KEY",
    "MANIFEST",
    "WorkState",
    "work_dir_for",
    "output_sibling",
    "part_name",
    "fsync_dir",
    "write_atomic_bytes",
    "finished_parts",
    "read_meta",
    "inspect_work",
    "completed_output",
    "prepare_work_dir",
]

#: Parquet key-value metadata key holding the job's description (key, rows, tokens, requests).
META_KEY = b"dashscope_embed.job"
MANIFEST = "manifest.json"


def work_dir_for(output: Path) -> Path:
    """The job's work directory: ``OUTPUT.parts`` next to the output (see ``output_sibling``)."""
    return output_sibling(output, ".parts")


def output_sibling(output: Path, suffix: str) -> Path:
    """``OUTPUT{suffix}`` next to ``output``, the files a job keeps beside its output.

    Raises:
        InvalidInputError: ``output`` names no file (``.``, ``/``, ``..``) or is a directory: a job's output is a
            Parquet file, and pathlib's ValueError or the final rename's IsADirectoryError would come later.
    """
    if output.name in ("", ".", ".."):
        raise InvalidInputError(f"output {str(output)!r} names no file; give a file path such as out.parquet")
    if output.is_dir():
        raise InvalidInputError(f"output {output} is a directory; give a file path such as {output / 'out.parquet'}")
    return output.with_name(output.name + suffix)


def part_name(start: int, end: int) -> str:
    """File name of the finished part holding rows ``[start, end)``."""
    return f"part-{start:012d}-{end:012d}.parquet"


def fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a fsynced temporary file and a rename: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def finished_parts(work: Path) -> dict[int, tuple[int, Path]]:
    """start -> (end, path) of the finished parts in ``work``."""
    found: dict[int, tuple[int, Path]] = {}
    for path in work.glob("part-*-*.parquet"):
        _, start, end = path.stem.split("-")
        found[int(start)] = (int(end), path)
    return found


def read_meta(path: Path) -> dict[str, Any] | None:
    """The job description stored in a Parquet file's metadata, or ``None`` (not ours, unreadable)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:
        return None
    raw = meta.get(META_KEY)
    return orjson.loads(raw) if raw else None


@dataclass
class WorkState:
    """What is on disk for a job (see ``inspect_work``).

    Attributes:
        rows_done: rows in finished parts and intact journal records (or in ``OUTPUT`` once merged).
        requests_done: successful requests whose results are on disk.
        tokens_done: their tokens.
        parts: finished parts.
        complete: ``OUTPUT`` holds the merged result and the work directory is gone.
    """

    rows_done: int = 0
    requests_done: int = 0
    tokens_done: int = 0
    parts: int = 0
    complete: bool = False


def inspect_work(output: Path) -> WorkState:
    """Count the finished work of the job writing ``output``: parts plus intact journal records, or the merged
    output. Used to report progress and by tests that check no finished row is requested twice."""
    output = Path(output)
    work = work_dir_for(output)
    state = WorkState()
    if not work.exists():
        meta = read_meta(output) if output.exists() else None
        if meta:
            state.rows_done = meta["rows"]
            state.requests_done = meta["requests"]
            state.tokens_done = meta["tokens"]
            state.complete = True
        return state
    parts = finished_parts(work)
    for _, (_, path) in parts.items():
        meta = read_meta(path) or {}
        state.rows_done += meta.get("rows", 0)
        state.requests_done += meta.get("requests", 0)
        state.tokens_done += meta.get("tokens", 0)
        state.parts += 1
    for path in work.glob("chunk-*.journal"):
        start = int(path.stem.split("-")[1])
        if start in parts:
            continue  # stale: its part was written just before a crash
        records, _ = read_journal(path)
        for record in records:
            state.rows_done += len(record.rows)
            state.requests_done += record.requests
            state.tokens_done += record.tokens
    return state


def completed_output(output: Path, key: str, *, overwrite: bool) -> dict[str, Any] | None:
    """The metadata of ``output`` when it already holds this job's result (its leftover work directory removed),
    ``None`` when there is no such output or ``overwrite`` allows replacing another job's.

    Raises:
        BulkJobError: ``output`` holds something else and ``overwrite`` is false.
    """
    if not output.exists():
        return None
    meta = read_meta(output)
    if meta and meta.get("key") == key:
        work = work_dir_for(output)
        if work.exists():
            shutil.rmtree(work)  # a crash after the final rename left the work directory behind
        return meta
    if not overwrite:
        raise BulkJobError(f"{output} exists and holds something else; pass --overwrite to replace it")
    return None


def prepare_work_dir(
    work: Path, manifest: dict[str, Any], *, restart: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    """Create or reopen ``work`` for the job described by ``manifest`` and return the manifest in force.

    A reopened directory keeps its recorded ``chunk_size`` (the parts are cut by it). Half-written temporary files
    of a killed run and journals of chunks whose part exists are removed.

    Raises:
        BulkJobError: ``work`` holds another job's unfinished work and ``restart`` is false.
    """
    if work.exists():
        try:
            recorded = orjson.loads((work / MANIFEST).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            recorded = None  # killed before the manifest landed: nothing else can be in there yet
        if recorded is not None and recorded.get("key") != manifest["key"]:
            if not restart:
                raise BulkJobError(
                    f"{work} holds unfinished work of a different job (other input file content or options); "
                    "rerun with the original input and options to finish it, or pass --restart to discard it"
                )
            shutil.rmtree(work)
        elif recorded is not None:
            if recorded.get("chunk_size") != manifest["chunk_size"]:
                log(
                    f"resuming with the job's original chunk size {recorded['chunk_size']} "
                    f"(not {manifest['chunk_size']})"
                )
            manifest = recorded
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)  # half-written parts of a killed run
    if not (work / MANIFEST).exists():
        write_atomic_bytes(work / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    for start in finished_parts(work):
        (work / journal_name(start)).unlink(missing_ok=True)  # stale journals of chunks whose part exists
    return manifest
