"""The ``dashscope-embed`` command: ``serve``, ``embed``, ``batch``, ``eval`` and ``demo``.

Examples::

    dashscope-embed serve --port 8000 --backend e5
    dashscope-embed embed corpus.jsonl -o vectors.parquet --text-field body --id-field doc_id --dimensions 512
    dashscope-embed embed lines.txt -o vectors.parquet --local --backend hash
    dashscope-embed embed corpus.jsonl -o vectors.parquet --batch-api --completion-window 48h
    dashscope-embed embed corpus.jsonl -o vectors.parquet --model text-embedding-async-v2 --rows-per-task 100000
    dashscope-embed batch status vectors.parquet
    dashscope-embed eval --dataset python_faq.json --local --backend e5
    dashscope-embed demo --query "How do I read a file line by line?"

Exit status: 0 success, 1 a failed job (the message says whether rerunning resumes), 2 bad usage or configuration,
130 interrupted. Each subcommand's work lives in ``dashscope_embed.jobs``; this module parses arguments and prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .cli_parser import build_parser
from .errors import UsageError

__all__ = ["main", "build_parser"]


def cmd_models(args: argparse.Namespace) -> int:
    """``dashscope-embed models``: print the catalog as a table (or JSON lines); returns 0.

    Raises:
        InvalidInputError: unknown region.
    """
    import orjson

    from .catalog_table import catalog_records, format_catalog
    from .rerank.catalog import format_rerank_catalog, rerank_records
    from .settings import canonical_region

    records = catalog_records(kind=args.kind, region=args.region) if args.kind != "rerank" else []
    reranks = (
        [
            r
            for r in rerank_records()
            if not args.region or "retired" in r or canonical_region(args.region) in r["regions"]
        ]
        if args.kind in (None, "rerank")
        else []
    )
    if not records and not reranks:
        print(f"no {args.kind or ''} model in this catalog is offered in {args.region}".replace("  ", " "), flush=True)
        return 0
    if args.json:
        for record in records + reranks:
            print(orjson.dumps(record).decode(), flush=True)
    else:
        tables = ([format_catalog(records)] if records else []) + ([format_rerank_catalog(reranks)] if reranks else [])
        print("\n\n".join(tables), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------- commands


def _embedder(args: argparse.Namespace, base_url: str | None, **extra: Any) -> Any:
    from .engine import DashScopeEmbedder

    return DashScopeEmbedder(
        args.model,
        dimensions=args.dimensions,
        base_url=base_url,
        region=args.region,
        protocol=args.protocol,
        max_concurrency=args.max_concurrency,
        max_retries=args.max_retries,
        timeout=args.timeout,
        **extra,
    )


def _err(message: str) -> None:
    from .redaction import redact

    print(f"dashscope-embed: {redact(message)}", file=sys.stderr, flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    """``dashscope-embed serve``: run the local service in the foreground until interrupted; returns 0."""
    from .server import serve
    from .server.faults import FaultConfig

    faults = FaultConfig(latency=args.latency) if args.latency else None
    serve(
        host=args.host,
        port=args.port,
        backend=args.backend,
        faults=faults,
        api_key=args.api_key,
        log_level=args.log_level,
    )
    return 0


def _source_spec(args: argparse.Namespace) -> Any:
    from .jobs.sources import SourceSpec, detect_format

    if not args.input.is_file():
        raise UsageError(f"input {args.input} is not a file")
    fmt = detect_format(args.input, args.format)
    return SourceSpec(
        path=args.input,
        format=fmt,
        text_field=args.text_field,
        column=args.column,
        id_field=args.id_field,
        delimiter="\t" if args.input.suffix.lower() == ".tsv" else ",",
    )


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cmd_embed(args: argparse.Namespace) -> int:
    """``dashscope-embed embed``: resumable bulk embedding of INPUT into Parquet; returns 0.

    Raises:
        UsageError: the input is not a file, or options that ``--batch-api`` cannot honour.
        NoCredentialsError: no key, base URL or ``--local`` was given.
        BulkJobError / APIError: the job failed (finished rows stay on disk for a rerun).
    """
    from .jobs.bulk import run_bulk_job
    from .jobs.connection import resolve_endpoint

    spec = _source_spec(args)
    tasks = _is_task_model(args.model)
    if tasks:
        _check_task_options(args)
    elif args.batch_api:
        _check_batch_options(args)
    if args.rows_per_task is not None and not tasks:
        raise UsageError(
            f"--rows-per-task applies to the asynchronous-task models (text-embedding-async-v1/v2), not {args.model}"
        )
    _check_rows(args, spec)
    with resolve_endpoint(base_url=args.base_url, local=args.local, backend=args.backend) as endpoint:
        if endpoint.local_backend:
            _log(f"using the {endpoint.description}")
        if tasks:
            summary = _run_task_job(args, spec, endpoint.base_url)
        elif args.batch_api:
            summary = _run_batch_job(args, spec, endpoint.base_url)
        else:
            with _embedder(
                args,
                endpoint.base_url,
                output_type=args.output_type,
                requests_per_minute=args.requests_per_minute,
                tokens_per_minute=args.tokens_per_minute,
            ) as embedder:
                summary = run_bulk_job(
                    embedder,
                    spec,
                    args.output,
                    chunk_size=args.chunk_size,
                    output_type=args.output_type,
                    text_type=args.text_type,
                    skip_empty=not args.fail_on_empty,
                    restart=args.restart,
                    overwrite=args.overwrite,
                    progress=not args.no_progress,
                    log=_log,
                )
    for line in summary.lines():
        print(line, flush=True)
    return 0


def _check_rows(args: argparse.Namespace, spec: Any) -> None:
    """Read the whole input once before anything is sent: a row that cannot be embedded stops the command here,
    not after part of the file was paid for; empty rows and repeated ids are named."""
    from .jobs.sources import SourceError, check_source

    check = check_source(spec)
    if check.empty:
        if args.fail_on_empty:
            raise SourceError(
                f"{spec.path}: {check.empty_message()}; DashScope rejects empty input "
                "(leave out --fail-on-empty to skip such rows)"
            )
        _log(f"skipping {check.empty_message()} of {spec.path}: DashScope rejects empty input")
    if check.duplicate_ids:
        if args.unique_ids:
            raise SourceError(
                f"{spec.path}: {check.duplicates_message()} in --id-field {spec.id_field!r} "
                "(--unique-ids refuses repeated ids)"
            )
        _log(
            f"warning: {spec.path}: {check.duplicates_message()} in --id-field {spec.id_field!r}; every row is "
            "kept (pass --unique-ids to refuse such input)"
        )


def _check_batch_options(args: argparse.Namespace) -> None:
    # Batch lines speak the OpenAI-compatible protocol: dense vectors of documents, paced by the service.
    refused = [
        ("--output-type sparse vectors", args.output_type != "dense"),
        ("--text-type query", args.text_type != "document"),
        ("--protocol dashscope", args.protocol == "dashscope"),
        ("--requests-per-minute / --tokens-per-minute", bool(args.requests_per_minute or args.tokens_per_minute)),
    ]
    bad = [name for name, given in refused if given]
    if bad:
        raise UsageError(
            f"--batch-api cannot honour {', '.join(bad)}: batch lines are OpenAI-compatible "
            "embedding requests (dense, document side) run at the service's pace"
        )


def _is_task_model(model: str) -> bool:
    from .catalog import CATALOG

    spec = CATALOG.get(model)
    return spec is not None and spec.async_task


def _check_task_options(args: argparse.Namespace) -> None:
    # Tasks take a text file of documents or queries: dense 1536-dimension vectors, run at the service's pace.
    refused = [
        ("--batch-api (these models run only as asynchronous tasks, which is what this command does)", args.batch_api),
        ("--output-type sparse vectors", args.output_type != "dense"),
        ("--protocol", args.protocol is not None),
        ("--requests-per-minute / --tokens-per-minute", bool(args.requests_per_minute or args.tokens_per_minute)),
        ("--fallback-realtime (no real-time endpoint serves these models)", args.fallback_realtime),
        ("--rows-per-line / --lines-per-shard (use --rows-per-task)", bool(args.rows_per_line or args.lines_per_shard)),
        ("--completion-window", args.completion_window != "24h"),
    ]
    bad = [name for name, given in refused if given]
    if bad:
        raise UsageError(
            f"{args.model} cannot honour {', '.join(bad)}: it embeds text files as asynchronous "
            "tasks (dense vectors of 1536 dimensions, document or query side)"
        )


def _remote_job_options(args: argparse.Namespace, base_url: str | None) -> dict[str, Any]:
    """The options every remote job (Batch File API, asynchronous tasks) takes from the command line."""
    return {
        "model": args.model,
        "dimensions": args.dimensions,
        "base_url": base_url,
        "region": args.region,
        "timeout": args.timeout,
        "max_retries": args.max_retries,
        "keep_remote_files": args.keep_remote_files,
        "chunk_size": args.chunk_size,
        "skip_empty": not args.fail_on_empty,
        "restart": args.restart,
        "overwrite": args.overwrite,
        "progress": not args.no_progress,
        "log": _log,
    }


def _run_task_job(args: argparse.Namespace, spec: Any, base_url: str | None) -> Any:
    from .batch import AsyncTaskJob, TaskJobOptions
    from .batch.tasks.limits import TASK_LIMITS

    options = TaskJobOptions(
        poll_interval=args.poll_interval or 5.0,
        rows_per_task=args.rows_per_task or TASK_LIMITS.max_lines,
        text_type=args.text_type,
        **_remote_job_options(args, base_url),
    )
    return _run_remote(AsyncTaskJob(spec, args.output, options), args.output)


def _run_remote(job: Any, output: Any) -> Any:
    # A wrong key or a refused request stops the job with what to fix, not "rerun", and with nothing left behind
    # when the service holds nothing of it (``cleanup.permanent_stop``).
    from .batch.cleanup import permanent_stop
    from .batch.state import state_path_for
    from .errors import APIError

    fresh = not state_path_for(output).exists()
    try:
        return job.run()
    except APIError as exc:
        if exc.retryable:
            raise
        raise permanent_stop(exc, output, fresh=fresh) from exc


def _run_batch_job(args: argparse.Namespace, spec: Any, base_url: str | None) -> Any:
    from .batch import DEFAULT_POLL_INTERVAL, LIMITS, BatchEmbeddingJob, BatchJobOptions

    options = BatchJobOptions(
        completion_window=args.completion_window,
        poll_interval=args.poll_interval or DEFAULT_POLL_INTERVAL,
        rows_per_line=args.rows_per_line,
        fallback_realtime=args.fallback_realtime,
        lines_per_shard=args.lines_per_shard or LIMITS.max_lines,
        **_remote_job_options(args, base_url),
    )
    return _run_remote(BatchEmbeddingJob(spec, args.output, options), args.output)


def cmd_batch(args: argparse.Namespace) -> int:
    """``dashscope-embed batch status|cancel OUTPUT``: print or cancel the batches of a ``--batch-api`` job
    or the tasks of an asynchronous-task job; a task that cannot be cancelled (RUNNING) is printed.

    Raises:
        BatchJobError: no state file beside OUTPUT. APIError: a request failed.
    """
    from .batch import batch_status, cancel_batches

    if args.batch_command == "status":
        for line in batch_status(args.output, base_url=args.base_url):
            print(line, flush=True)
        return 0
    from pathlib import Path

    from .batch.state import load_state, state_path_for

    state = load_state(state_path_for(Path(args.output)))
    nouns = "tasks" if state is not None and state.kind == "task" else "batches"
    cancelled = cancel_batches(args.output, base_url=args.base_url, log=lambda line: print(line, flush=True))
    print(f"cancelled {len(cancelled)} {nouns}" + (": " + ", ".join(cancelled) if cancelled else ""), flush=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """``dashscope-embed eval``: print nDCG, Recall and MRR at k for a judged set; returns 0.

    Raises:
        ValueError: a malformed judged set. APIError: a request failed.
    """
    from .jobs.connection import resolve_endpoint
    from .jobs.evaluate import evaluate_embedder, format_table, load_judged_set

    judged = load_judged_set(args.dataset)
    print(f"{args.dataset.name}: {len(judged.doc_ids)} documents, {len(judged.query_ids)} judged queries", flush=True)
    with resolve_endpoint(base_url=args.base_url, local=args.local, backend=args.backend) as endpoint:
        print(f"using the {endpoint.description}", flush=True)
        with _embedder(args, endpoint.base_url) as embedder:
            label = f"{embedder.model} d={embedder.dimension} {embedder.protocol}"
            if endpoint.local_backend:
                label += f" (local {endpoint.local_backend})"
            if args.rerank:
                results = list(_evaluate_reranked(args, endpoint.base_url, embedder, judged, label))
            else:
                results = [evaluate_embedder(embedder, judged, k=args.k, label=label)]
    print(format_table(results, k=args.k), flush=True)
    if args.rerank:
        gain = results[1].metrics[f"ndcg@{args.k}"] - results[0].metrics[f"ndcg@{args.k}"]
        print(f"rerank with {args.rerank}: nDCG@{args.k} {gain:+.4f}", flush=True)
    return 0


def _evaluate_reranked(
    args: argparse.Namespace, base_url: str | None, embedder: Any, judged: Any, label: str
) -> tuple[Any, Any]:
    from .jobs.evaluate_rerank import evaluate_with_rerank
    from .rerank import DashScopeReranker

    with DashScopeReranker(
        args.rerank,
        base_url=base_url,
        region=args.region,
        max_concurrency=args.max_concurrency,
        max_retries=args.max_retries,
        timeout=args.timeout,
    ) as reranker:
        return evaluate_with_rerank(
            embedder, reranker, judged, k=args.k, candidates=args.rerank_candidates, label=label
        )


def cmd_demo(args: argparse.Namespace) -> int:
    """``dashscope-embed demo``: index documents with both frameworks and answer questions; returns its status."""
    from .jobs.demo import run_demo

    return run_demo(args)


COMMANDS = {
    "serve": cmd_serve,
    "embed": cmd_embed,
    "batch": cmd_batch,
    "eval": cmd_eval,
    "demo": cmd_demo,
    "models": cmd_models,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .errors import APIError, DashScopeError, InvalidInputError
    from .jobs.bulk import BulkJobError
    from .jobs.connection import NoCredentialsError
    from .jobs.sources import SourceError

    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        _err("interrupted" + ("; rerun the same command to resume" if args.command == "embed" else ""))
        return 130
    except (UsageError, NoCredentialsError, SourceError, InvalidInputError) as exc:
        _err(str(exc))
        return 2
    except BulkJobError as exc:
        _err(str(exc))
        return 1
    except (APIError, DashScopeError) as exc:
        _err(f"{type(exc).__name__}: {exc}")
        return 1
    except (OSError, ValueError) as exc:
        _err(str(exc))
        return 2


if __name__ == "__main__":  # pragma: no cover - python -m dashscope_embed.cli
    sys.exit(main())
