"""The ``dashscope-embed`` command line's arguments: one function per subcommand adds its options to the parser.

``build_parser`` is the whole grammar; ``dashscope_embed.cli`` runs what it parses.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .settings import MAX_COUNT, MAX_TIMEOUT, REGION_IDS
from .version import __version__

__all__ = ["build_parser", "BACKENDS"]

BACKENDS = ("hash", "e5", "use")


def _positive_int(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_COUNT}, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:  # also NaN
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _seconds(text: str) -> float:
    # a longer wait (inf) overflows the socket layer or time.sleep (OverflowError)
    value = float(text)
    if not 0 < value <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"must be > 0 and at most {MAX_TIMEOUT:.0f} seconds, got {value}")
    return value


def _add_connection(parser: argparse.ArgumentParser, *, default_backend: str) -> None:
    group = parser.add_argument_group("service")
    group.add_argument("--model", default="text-embedding-v4", help="model id (default: %(default)s)")
    group.add_argument("--dimensions", type=int, default=None, help="output dimension (default: the model's)")
    group.add_argument(
        "--base-url",
        default=None,
        help="service root, .../api/v1 or .../compatible-mode/v1 (default: DASHSCOPE_BASE_URL or "
        "the region's public root)",
    )
    group.add_argument(
        "--region",
        default=None,
        choices=(*REGION_IDS, *REGION_IDS.values()),
        help="region by name or id when no base URL is given (default: DASHSCOPE_REGION or beijing)",
    )
    group.add_argument(
        "--protocol",
        default=None,
        choices=("dashscope", "openai"),
        help="native DashScope API (default) or the OpenAI-compatible endpoint",
    )
    group.add_argument("--max-concurrency", type=_positive_int, default=8, help="requests in flight (default: 8)")
    group.add_argument("--max-retries", type=int, default=4, help="retries per request (default: 4)")
    group.add_argument("--timeout", type=_seconds, default=60.0, help="seconds per request (default: 60)")
    group.add_argument(
        "--local", action="store_true", help="start the local DashScope-compatible service in-process and use it"
    )
    group.add_argument(
        "--backend",
        default=default_backend,
        choices=BACKENDS,
        help="backend of the --local service (default: %(default)s; hash is fast but not semantic)",
    )


def _add_serve(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the local DashScope-compatible embedding service",
        description="Run the local DashScope-compatible service in the foreground (Ctrl-C stops).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface (default: %(default)s, local only)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s; 0 picks one)")
    serve.add_argument(
        "--backend",
        default="e5",
        choices=BACKENDS,
        help="e5: semantic (multilingual-e5-small); use: faster, weaker; hash: fast, not semantic",
    )
    serve.add_argument(
        "--api-key", default=None, help="require 'Authorization: Bearer KEY' on requests (default: no check)"
    )
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to every request (testing)")
    serve.add_argument("--log-level", default="warning", help="uvicorn log level (default: %(default)s)")


def _add_embed_input(embed: argparse.ArgumentParser) -> None:
    embed.add_argument("input", type=Path, help="input file (.jsonl/.ndjson, .csv/.tsv, or text: a row a line)")
    embed.add_argument("-o", "--output", type=Path, required=True, help="Parquet file to write")
    embed.add_argument(
        "--format", choices=("jsonl", "csv", "txt"), default=None, help="input format (default: from the extension)"
    )
    embed.add_argument("--text-field", default="text", help="JSONL key holding the text (default: %(default)s)")
    embed.add_argument("--column", default="text", help="CSV column holding the text (default: %(default)s)")
    embed.add_argument(
        "--id-field",
        default=None,
        help="JSONL key or CSV column holding the row id (default: ids are row numbers from 0)",
    )
    embed.add_argument(
        "--unique-ids",
        action="store_true",
        help="refuse an input whose --id-field repeats an id (default: warn and keep every row)",
    )


def _add_embed(sub: Any) -> None:
    embed = sub.add_parser(
        "embed",
        help="embed a JSONL, CSV or text file into Parquet (resumable)",
        description="Embed every row of INPUT into the Parquet file OUTPUT in bounded memory. Interrupted or "
        "killed runs resume when the same command is run again; finished rows are not re-sent.",
    )
    _add_embed_input(embed)
    embed.add_argument(
        "--output-type",
        default="dense",
        choices=("dense", "dense&sparse", "sparse"),
        help="vectors to store (sparse needs text-embedding-v3/v4; default: dense)",
    )
    embed.add_argument(
        "--text-type",
        default="document",
        choices=("document", "query"),
        help="text_type sent to the service (default: document)",
    )
    embed.add_argument("--requests-per-minute", type=_positive_float, default=None, help="client-side request pacing")
    embed.add_argument("--tokens-per-minute", type=_positive_float, default=None, help="client-side token pacing")
    embed.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=1000,
        help="rows per chunk/part/row group; bounds memory (default: %(default)s)",
    )
    embed.add_argument(
        "--fail-on-empty",
        action="store_true",
        help="stop at an empty row instead of skipping it (DashScope rejects empty input)",
    )
    embed.add_argument(
        "--restart",
        action="store_true",
        help="discard unfinished work of a different job in OUTPUT.parts instead of refusing; "
        "with --batch-api also this job's state (its unfinished batches are cancelled and "
        "its remote files deleted) to start again",
    )
    embed.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT of a different job")
    embed.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_batch_api_options(embed)
    _add_connection(embed, default_backend="e5")


def _add_batch_api_options(embed: argparse.ArgumentParser) -> None:
    group = embed.add_argument_group(
        "Batch File API",
        "run the job as Model Studio batches: half price, results within the completion window (China (Beijing) only)",
    )
    group.add_argument(
        "--batch-api", action="store_true", help="submit the rows as Batch File API jobs instead of real-time requests"
    )
    group.add_argument(
        "--completion-window", default="24h", help="24h to 336h, an integer with unit h or d (default: %(default)s)"
    )
    group.add_argument(
        "--poll-interval",
        type=_seconds,
        default=None,
        help="seconds between status checks at first; backs off while nothing changes "
        "(default: 30; 5 for asynchronous tasks)",
    )
    group.add_argument(
        "--rows-per-line",
        type=_positive_int,
        default=None,
        help="texts per JSONL line (default: the model's row limit; 1 sends one text a line)",
    )
    group.add_argument(
        "--lines-per-shard",
        type=_positive_int,
        default=None,
        help="lines per uploaded input file (default and documented maximum: 50000)",
    )
    group.add_argument(
        "--keep-remote-files",
        action="store_true",
        help="keep the uploaded input files and the result files on the service",
    )
    group.add_argument(
        "--fallback-realtime",
        action="store_true",
        help="embed rows the batches could not embed through the real-time API",
    )
    tasks = embed.add_argument_group(
        "asynchronous batch tasks",
        "--model text-embedding-async-v2 (or -v1) runs the job as asynchronous tasks, "
        "the only way these models run: 1536 dimensions, --text-type, --poll-interval "
        "(default 5 s for tasks); China (Beijing) only",
    )
    tasks.add_argument(
        "--rows-per-task",
        type=_positive_int,
        default=None,
        help="texts per task (default and documented maximum: 100000)",
    )


def _add_batch(sub: Any) -> None:
    batch = sub.add_parser(
        "batch",
        help="status or cancel of an `embed --batch-api` or asynchronous-task job",
        description="Inspect or cancel the batches of an `embed --batch-api` job, or the tasks "
        "of an `embed --model text-embedding-async-v2` job, from the state file "
        "beside OUTPUT. Cancelling also stops the job if it is running.",
    )
    actions = batch.add_subparsers(dest="batch_command", metavar="ACTION")
    actions.required = True
    for name, text in (
        ("status", "print each shard's batch status"),
        ("cancel", "cancel the job's unfinished batches or tasks and stop the running job from submitting more"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("output", type=Path, help="the OUTPUT given to `embed --batch-api`")
        action.add_argument("--base-url", default=None, help="service root (default: the one the job used)")


def _add_eval(sub: Any) -> None:
    ev = sub.add_parser(
        "eval",
        help="nDCG@10, Recall@10 and MRR@10 on a judged set",
        description="Embed the documents (text_type=document) and queries (text_type=query) of a "
        "judged set and print nDCG, Recall and MRR at k.",
    )
    ev.add_argument(
        "--dataset", type=Path, required=True, help="JSON with docs, queries and qrels (like python_faq.json)"
    )
    ev.add_argument("-k", type=_positive_int, default=10, help="cutoff (default: 10)")
    ev.add_argument(
        "--rerank",
        metavar="MODEL",
        default=None,
        help="also rerank each query's first-stage candidates with this rerank model (e.g. qwen3-rerank) "
        "and print both figures",
    )
    ev.add_argument(
        "--rerank-candidates",
        type=_positive_int,
        default=50,
        help="first-stage documents per query given to the reranker (default: 50)",
    )
    _add_connection(ev, default_backend="e5")


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="retrieval over real documents with LlamaIndex and LangChain",
        description="Index documents (default: a subset of the Python language reference shipped with CPython) with "
        "LlamaIndex and LangChain, then answer questions with the top passages. Uses DashScope when "
        "DASHSCOPE_API_KEY is set, else the local service (e5 backend) in-process.",
    )
    demo.add_argument("--docs", type=Path, default=None, help="a directory of .txt/.md files to index instead")
    demo.add_argument(
        "--all-topics",
        action="store_true",
        help="index all 79 language-reference topics (about 10 minutes on 2 cores locally)",
    )
    demo.add_argument("--query", action="append", default=None, help="a question (repeatable; default: built-ins)")
    demo.add_argument("--top-k", type=_positive_int, default=3, help="passages per question (default: 3)")
    demo.add_argument("--chunk-size", type=_positive_int, default=1024, help="tokens per chunk (default: 1024)")
    demo.add_argument("--framework", choices=("both", "llamaindex", "langchain"), default="both")
    demo.add_argument(
        "--rerank",
        metavar="MODEL",
        default="qwen3-rerank",
        help="rerank model that picks the answer among the top 10 passages (default: %(default)s; 'none' to skip)",
    )
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
    models = sub.add_parser(
        "models",
        help="list the models this version knows, with their limits and prices",
        description="Print the model catalog: dimensions (default marked *), rows and tokens per "
        "request, media limits, features, regions and prices per million tokens.",
    )
    models.add_argument(
        "--kind", choices=("text", "multimodal", "rerank"), default=None, help="only this kind of model"
    )
    models.add_argument("--region", default=None, help="only models offered in this region (name or region id)")
    models.add_argument("--json", action="store_true", help="one JSON object per model instead of a table")
