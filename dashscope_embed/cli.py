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
from pathlib import Path
from typing import Any, Optional, Sequence

from .version import __version__
from .errors import UsageError
from .settings import REGION_IDS

__all__ = ["main", "build_parser"]

BACKENDS = ("hash", "e5", "use")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _add_connection(parser: argparse.ArgumentParser, *, default_backend: str) -> None:
    group = parser.add_argument_group("service")
    group.add_argument("--model", default="text-embedding-v4", help="model id (default: %(default)s)")
    group.add_argument("--dimensions", type=int, default=None, help="output dimension (default: the model's)")
    group.add_argument("--base-url", default=None,
                       help="service root, .../api/v1 or .../compatible-mode/v1 (default: DASHSCOPE_BASE_URL or "
                            "the region's public root)")
    group.add_argument("--region", default=None, choices=(*REGION_IDS, *REGION_IDS.values()),
                       help="region by name or id when no base URL is given (default: DASHSCOPE_REGION or beijing)")
    group.add_argument("--protocol", default=None, choices=("dashscope", "openai"),
                       help="native DashScope API (default) or the OpenAI-compatible endpoint")
    group.add_argument("--max-concurrency", type=_positive_int, default=8, help="requests in flight (default: 8)")
    group.add_argument("--max-retries", type=int, default=4, help="retries per request (default: 4)")
    group.add_argument("--timeout", type=_positive_float, default=60.0, help="seconds per request (default: 60)")
    group.add_argument("--local", action="store_true",
                       help="start the local DashScope-compatible service in-process and use it")
    group.add_argument("--backend", default=default_backend, choices=BACKENDS,
                       help="backend of the --local service (default: %(default)s; hash is fast but not semantic)")


def _add_serve(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the local DashScope-compatible embedding service",
                           description="Run the local DashScope-compatible service in the foreground (Ctrl-C stops).")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default: %(default)s, local only)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s; 0 picks one)")
    serve.add_argument("--backend", default="e5", choices=BACKENDS,
                       help="e5: semantic (multilingual-e5-small); use: faster, weaker; hash: fast, not semantic")
    serve.add_argument("--api-key", default=None,
                       help="require 'Authorization: Bearer KEY' on requests (default: no check)")
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to every request (testing)")
    serve.add_argument("--log-level", default="warning", help="uvicorn log level (default: %(default)s)")


def _add_embed_input(embed: argparse.ArgumentParser) -> None:
    embed.add_argument("input", type=Path, help="input file (.jsonl/.ndjson, .csv/.tsv, or text: a row a line)")
    embed.add_argument("-o", "--output", type=Path, required=True, help="Parquet file to write")
    embed.add_argument("--format", choices=("jsonl", "csv", "txt"), default=None,
                       help="input format (default: from the extension)")
    embed.add_argument("--text-field", default="text", help="JSONL key holding the text (default: %(default)s)")
    embed.add_argument("--column", default="text", help="CSV column holding the text (default: %(default)s)")
    embed.add_argument("--id-field", default=None,
                       help="JSONL key or CSV column holding the row id (default: ids are row numbers from 0)")
    embed.add_argument("--unique-ids", action="store_true",
                       help="refuse an input whose --id-field repeats an id (default: warn and keep every row)")


def _add_embed(sub: Any) -> None:
    embed = sub.add_parser(
        "embed", help="embed a JSONL, CSV or text file into Parquet (resumable)",
        description="Embed every row of INPUT into the Parquet file OUTPUT in bounded memory. Interrupted or "
                    "killed runs resume when the same command is run again; finished rows are not re-sent.",
    )
    _add_embed_input(embed)
    embed.add_argument("--output-type", default="dense", choices=("dense", "dense&sparse", "sparse"),
                       help="vectors to store (sparse needs text-embedding-v3/v4; default: dense)")
    embed.add_argument("--text-type", default="document", choices=("document", "query"),
                       help="text_type sent to the service (default: document)")
    embed.add_argument("--requests-per-minute", type=_positive_float, default=None, help="client-side request pacing")
    embed.add_argument("--tokens-per-minute", type=_positive_float, default=None, help="client-side token pacing")
    embed.add_argument("--chunk-size", type=_positive_int, default=1000,
                       help="rows per chunk/part/row group; bounds memory (default: %(default)s)")
    embed.add_argument("--fail-on-empty", action="store_true",
                       help="stop at an empty row instead of skipping it (DashScope rejects empty input)")
    embed.add_argument("--restart", action="store_true",
                       help="discard unfinished work of a different job in OUTPUT.parts instead of refusing; "
                            "with --batch-api also this job's state (its unfinished batches are cancelled and "
                            "its remote files deleted) to start again")
    embed.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT of a different job")
    embed.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_batch_api_options(embed)
    _add_connection(embed, default_backend="e5")


def _add_batch_api_options(embed: argparse.ArgumentParser) -> None:
    group = embed.add_argument_group(
        "Batch File API", "run the job as Model Studio batches: half price, results within the completion window "
                          "(China (Beijing) only)")
    group.add_argument("--batch-api", action="store_true",
                       help="submit the rows as Batch File API jobs instead of real-time requests")
    group.add_argument("--completion-window", default="24h",
                       help="24h to 336h, an integer with unit h or d (default: %(default)s)")
    group.add_argument("--poll-interval", type=_positive_float, default=None,
                       help="seconds between status checks at first; backs off while nothing changes "
                            "(default: 30; 5 for asynchronous tasks)")
    group.add_argument("--rows-per-line", type=_positive_int, default=None,
                       help="texts per JSONL line (default: the model's row limit; 1 sends one text a line)")
    group.add_argument("--lines-per-shard", type=_positive_int, default=None,
                       help="lines per uploaded input file (default and documented maximum: 50000)")
    group.add_argument("--keep-remote-files", action="store_true",
                       help="keep the uploaded input files and the result files on the service")
    group.add_argument("--fallback-realtime", action="store_true",
                       help="embed rows the batches could not embed through the real-time API")
    tasks = embed.add_argument_group(
        "asynchronous batch tasks", "--model text-embedding-async-v2 (or -v1) runs the job as asynchronous tasks, "
                                    "the only way these models run: 1536 dimensions, --text-type, --poll-interval "
                                    "(default 5 s for tasks); China (Beijing) only")
    tasks.add_argument("--rows-per-task", type=_positive_int, default=None,
                       help="texts per task (default and documented maximum: 100000)")


def _add_batch(sub: Any) -> None:
    batch = sub.add_parser("batch", help="status or cancel of an `embed --batch-api` or asynchronous-task job",
                           description="Inspect or cancel the batches of an `embed --batch-api` job, or the tasks "
                                       "of an `embed --model text-embedding-async-v2` job, from the state file "
                                       "beside OUTPUT. Cancelling also stops the job if it is running.")
    actions = batch.add_subparsers(dest="batch_command", metavar="ACTION")
    actions.required = True
    for name, text in (("status", "print each shard's batch status"), ("cancel", "cancel the job's unfinished batches or tasks and stop the running job from submitting more")):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("output", type=Path, help="the OUTPUT given to `embed --batch-api`")
        action.add_argument("--base-url", default=None, help="service root (default: the one the job used)")


def _add_eval(sub: Any) -> None:
    ev = sub.add_parser("eval", help="nDCG@10, Recall@10 and MRR@10 on a judged set",
                        description="Embed the documents (text_type=document) and queries (text_type=query) of a "
                                    "judged set and print nDCG, Recall and MRR at k.")
    ev.add_argument("--dataset", type=Path, required=True,
                    help="JSON with docs, queries and qrels (like python_faq.json)")
    ev.add_argument("-k", type=_positive_int, default=10, help="cutoff (default: 10)")
    ev.add_argument("--rerank", metavar="MODEL", default=None,
                    help="also rerank each query's first-stage candidates with this rerank model (e.g. qwen3-rerank) "
                         "and print both figures")
    ev.add_argument("--rerank-candidates", type=_positive_int, default=50,
                    help="first-stage documents per query given to the reranker (default: 50)")
    _add_connection(ev, default_backend="e5")


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser(
        "demo", help="retrieval over real documents with LlamaIndex and LangChain",
        description="Index documents (default: a subset of the Python language reference shipped with CPython) with "
                    "LlamaIndex and LangChain, then answer questions with the top passages. Uses DashScope when "
                    "DASHSCOPE_API_KEY is set, else the local service (e5 backend) in-process.",
    )
    demo.add_argument("--docs", type=Path, default=None, help="a directory of .txt/.md files to index instead")
    demo.add_argument("--all-topics", action="store_true",
                      help="index all 79 language-reference topics (about 10 minutes on 2 cores locally)")
    demo.add_argument("--query", action="append", default=None, help="a question (repeatable; default: built-ins)")
    demo.add_argument("--top-k", type=_positive_int, default=3, help="passages per question (default: 3)")
    demo.add_argument("--chunk-size", type=_positive_int, default=1024, help="tokens per chunk (default: 1024)")
    demo.add_argument("--framework", choices=("both", "llamaindex", "langchain"), default="both")
    demo.add_argument("--rerank", metavar="MODEL", default="qwen3-rerank",
                      help="rerank model that picks the answer among the top 10 passages (default: %(default)s; "
                           "'none' to skip)")
    _add_connection(demo, default_backend="e5")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="dashscope-embed",
        description="DashScope (Alibaba Cloud Model Studio) embeddings: bulk jobs, evaluation, a local service, "
                    "and a retrieval demo.",
    )
    parser.add_argument("--version", action="version", version=f"dashscope-embed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (_add_serve, _add_embed, _add_batch, _add_eval, _add_demo, _add_models):
        add(sub)
    return parser


def _add_models(sub: Any) -> None:
    """Register ``dashscope-embed models``: print the catalog (dimensions, rows, tokens, features, regions, prices)."""
    models = sub.add_parser("models", help="list the models this version knows, with their limits and prices",
                            description="Print the model catalog: dimensions (default marked *), rows and tokens per "
                                        "request, media limits, features, regions and prices per million tokens.")
    models.add_argument("--kind", choices=("text", "multimodal", "rerank"), default=None,
                        help="only this kind of model")
    models.add_argument("--region", default=None, help="only models offered in this region (name or region id)")
    models.add_argument("--json", action="store_true", help="one JSON object per model instead of a table")


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
    reranks = [r for r in rerank_records() if not args.region or "retired" in r
               or canonical_region(args.region) in r["regions"]] if args.kind in (None, "rerank") else []
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
    if args.json:
        for record in records:
            print(orjson.dumps(record).decode(), flush=True)
    else:
        print(format_catalog(records), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------- commands


def _embedder(args: argparse.Namespace, base_url: Optional[str], **extra: Any) -> Any:
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
    serve(host=args.host, port=args.port, backend=args.backend, faults=faults, api_key=args.api_key,
          log_level=args.log_level)
    return 0


def _source_spec(args: argparse.Namespace) -> Any:
    from .jobs.sources import SourceSpec, detect_format

    if not args.input.is_file():
        raise UsageError(f"input {args.input} is not a file")
    fmt = detect_format(args.input, args.format)
    return SourceSpec(
        path=args.input, format=fmt, text_field=args.text_field, column=args.column, id_field=args.id_field,
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
        raise UsageError(f"--rows-per-task applies to the asynchronous-task models (text-embedding-async-v1/v2), "
                         f"not {args.model}")
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
                args, endpoint.base_url, output_type=args.output_type,
                requests_per_minute=args.requests_per_minute, tokens_per_minute=args.tokens_per_minute,
            ) as embedder:
                summary = run_bulk_job(
                    embedder, spec, args.output, chunk_size=args.chunk_size, output_type=args.output_type,
                    text_type=args.text_type, skip_empty=not args.fail_on_empty, restart=args.restart,
                    overwrite=args.overwrite, progress=not args.no_progress, log=_log,
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
            raise SourceError(f"{spec.path}: {check.empty_message()}; DashScope rejects empty input "
                              "(leave out --fail-on-empty to skip such rows)")
        _log(f"skipping {check.empty_message()} of {spec.path}: DashScope rejects empty input")
    if check.duplicate_ids:
        if args.unique_ids:
            raise SourceError(f"{spec.path}: {check.duplicates_message()} in --id-field {spec.id_field!r} "
                              "(--unique-ids refuses repeated ids)")
        _log(f"warning: {spec.path}: {check.duplicates_message()} in --id-field {spec.id_field!r}; every row is "
             "kept (pass --unique-ids to refuse such input)")


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
        raise UsageError(f"--batch-api cannot honour {', '.join(bad)}: batch lines are OpenAI-compatible "
                         "embedding requests (dense, document side) run at the service's pace")


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
        raise UsageError(f"{args.model} cannot honour {', '.join(bad)}: it embeds text files as asynchronous "
                         "tasks (dense vectors of 1536 dimensions, document or query side)")


def _run_task_job(args: argparse.Namespace, spec: Any, base_url: Optional[str]) -> Any:
    from .batch import AsyncTaskJob, TaskJobOptions
    from .batch.tasks.limits import TASK_LIMITS

    options = TaskJobOptions(
        model=args.model, dimensions=args.dimensions, base_url=base_url, region=args.region, timeout=args.timeout,
        max_retries=args.max_retries, poll_interval=args.poll_interval or 5.0,
        rows_per_task=args.rows_per_task or TASK_LIMITS.max_lines, text_type=args.text_type,
        keep_remote_files=args.keep_remote_files, chunk_size=args.chunk_size, skip_empty=not args.fail_on_empty,
        restart=args.restart, overwrite=args.overwrite, progress=not args.no_progress, log=_log,
    )
    return AsyncTaskJob(spec, args.output, options).run()


def _run_batch_job(args: argparse.Namespace, spec: Any, base_url: Optional[str]) -> Any:
    from .batch import DEFAULT_POLL_INTERVAL, LIMITS, BatchEmbeddingJob, BatchJobOptions

    options = BatchJobOptions(
        model=args.model, dimensions=args.dimensions, base_url=base_url, region=args.region, timeout=args.timeout,
        max_retries=args.max_retries, completion_window=args.completion_window,
        poll_interval=args.poll_interval or DEFAULT_POLL_INTERVAL, rows_per_line=args.rows_per_line,
        keep_remote_files=args.keep_remote_files, fallback_realtime=args.fallback_realtime,
        lines_per_shard=args.lines_per_shard or LIMITS.max_lines, chunk_size=args.chunk_size,
        skip_empty=not args.fail_on_empty, restart=args.restart, overwrite=args.overwrite,
        progress=not args.no_progress, log=_log,
    )
    return BatchEmbeddingJob(spec, args.output, options).run()


def cmd_batch(args: argparse.Namespace) -> int:
    """``dashscope-embed batch status|cancel OUTPUT``: print or cancel the batches of a ``--batch-api`` job.

    Raises:
        BatchJobError: no state file beside OUTPUT. APIError: a request failed.
    """
    from .batch import batch_status, cancel_batches

    if args.batch_command == "status":
        for line in batch_status(args.output, base_url=args.base_url):
            print(line, flush=True)
        return 0
    cancelled = cancel_batches(args.output, base_url=args.base_url)
    print(f"cancelled {len(cancelled)} batches" + (": " + ", ".join(cancelled) if cancelled else ""), flush=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """``dashscope-embed eval``: print nDCG, Recall and MRR at k for a judged set; returns 0.

    Raises:
        ValueError: a malformed judged set. APIError: a request failed.
    """
    from .jobs.connection import resolve_endpoint
    from .jobs.evaluate import evaluate_embedder, format_table, load_judged_set

    judged = load_judged_set(args.dataset)
    print(f"{args.dataset.name}: {len(judged.doc_ids)} documents, {len(judged.query_ids)} judged queries",
          flush=True)
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


def _evaluate_reranked(args: argparse.Namespace, base_url: Optional[str], embedder: Any, judged: Any,
                       label: str) -> tuple[Any, Any]:
    from .jobs.evaluate_rerank import evaluate_with_rerank
    from .rerank import DashScopeReranker

    with DashScopeReranker(args.rerank, base_url=base_url, region=args.region, max_concurrency=args.max_concurrency,
                           max_retries=args.max_retries, timeout=args.timeout) as reranker:
        return evaluate_with_rerank(embedder, reranker, judged, k=args.k, candidates=args.rerank_candidates,
                                    label=label)


def cmd_demo(args: argparse.Namespace) -> int:
    """``dashscope-embed demo``: index documents with both frameworks and answer questions; returns its status."""
    from .jobs.demo import run_demo

    return run_demo(args)


COMMANDS = {
    "serve": cmd_serve, "embed": cmd_embed, "batch": cmd_batch, "eval": cmd_eval, "demo": cmd_demo, "models": cmd_models,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
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

