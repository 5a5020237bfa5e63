"""Retrieval over real documents with LlamaIndex and LangChain (``dashscope-embed demo``).

The corpus is the Python language reference that ships with every CPython (``pydoc_data.topics``: 79 topics,
465 K characters), or the ``.txt``/``.md`` files of ``--docs DIR``. Each framework splits and indexes it with its
own tools (LlamaIndex: ``SentenceSplitter`` -> ``VectorStoreIndex``; LangChain: ``RecursiveCharacterTextSplitter``
-> ``InMemoryVectorStore``) and the DashScope embedding classes of this distribution, then retrieves the top
passages for each question, and shows the answer a rerank model puts first among ``RERANK_CANDIDATES`` vector
candidates (``DashScopeRerank`` of each framework: a node postprocessor, a document compressor). Retrieval only: no
LLM is involved, so nothing resolves OpenAI.

Default corpus size: the local service's semantic backend (multilingual-e5-small on CPU) embeds about 15 texts/s on
2 cores and both frameworks index the corpus, so by default only ``DEFAULT_TOPICS`` are indexed (15 topics,
about 48 K characters, the statements and concepts the built-in questions touch plus neighbours that compete
with them); ``--all-topics`` indexes all 79.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..rerank.catalog import get_rerank_spec

__all__ = ["DEFAULT_TOPICS", "DEFAULT_QUESTIONS", "Passage", "load_topics", "load_directory", "DemoIndexes", "run_demo"]

#: Language-reference topics indexed by default: the ones the built-in questions are about, and related statements
#: that compete for the same words (try/raise/exceptions, yield/function/lambda/async, for/while, class/import).
DEFAULT_TOPICS: tuple[str, ...] = (
    "with",
    "context-managers",
    "try",
    "exceptions",
    "raise",
    "yield",
    "function",
    "lambda",
    "async",
    "class",
    "for",
    "while",
    "import",
    "assert",
    "return",
)

DEFAULT_QUESTIONS: tuple[str, ...] = (
    "How does the with statement work?",
    "How do I catch an exception and clean up afterwards?",
    "What happens when a generator function executes a yield expression?",
    "When are default parameter values evaluated in a function definition?",
)


#: Vector candidates per question handed to the reranker.
RERANK_CANDIDATES = 10


@dataclass(frozen=True)
class Passage:
    """One retrieved passage.

    Attributes:
        source: the topic name (or file name) it came from.
        score: the vector store's similarity score (cosine for both stores here; higher is closer).
        text: the passage.
    """

    source: str
    score: float
    text: str


def load_topics(names: tuple[str, ...] | None = DEFAULT_TOPICS) -> dict[str, str]:
    """``{topic: text}`` from ``pydoc_data.topics`` (all topics when ``names`` is ``None``).

    Raises:
        KeyError: a name that is not a topic.
    """
    from pydoc_data.topics import topics

    if names is None:
        return dict(sorted(topics.items()))
    return {name: topics[name] for name in names}


def load_directory(path: Path) -> dict[str, str]:
    """``{relative file name: text}`` of the ``.txt`` and ``.md`` files under ``path`` (recursively).

    Raises:
        ValueError: no such file there.
    """
    files = sorted(p for p in Path(path).rglob("*") if p.suffix.lower() in (".txt", ".md") and p.is_file())
    docs = {str(p.relative_to(path)): p.read_text(encoding="utf-8", errors="replace") for p in files}
    docs = {name: text for name, text in docs.items() if text.strip()}
    if not docs:
        raise InvalidInputError(f"no non-empty .txt or .md files under {path}")
    return docs


class DemoIndexes:
    """Both frameworks' indexes over one corpus, built with the same embedding configuration.

    Args:
        corpus: ``{source name: text}``.
        model / dimensions / base_url / protocol / max_concurrency: the embedding configuration (see
            ``DashScopeEmbedder``); ``base_url`` ``None`` means DashScope itself (``DASHSCOPE_API_KEY``).
        chunk_size: tokens per chunk for LlamaIndex's ``SentenceSplitter``; LangChain's character splitter gets
            ``4 * chunk_size`` characters (about the same size in English text) with no tokenizer download.
        frameworks: ``"both"``, ``"llamaindex"`` or ``"langchain"``.
        rerank_model: the rerank model of ``rerank_llamaindex`` / ``rerank_langchain`` (``None``: no reranker).
        progress: show progress bars while indexing.
        log: where the indexing lines go.

    Raises:
        InvalidInputError: a retired or embedding ``rerank_model`` (before anything is indexed).
    """

    def __init__(
        self,
        corpus: dict[str, str],
        *,
        model: str = "text-embedding-v4",
        dimensions: int | None = None,
        base_url: str | None = None,
        protocol: str | None = None,
        max_concurrency: int = 8,
        chunk_size: int = 1024,
        frameworks: str = "both",
        rerank_model: str | None = "qwen3-rerank",
        progress: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        if rerank_model is not None:  # a retired model is refused now, not after minutes of indexing
            get_rerank_spec(rerank_model)
        self.corpus = corpus
        self.settings: dict[str, Any] = {
            "dimensions": dimensions,
            "base_url": base_url,
            "protocol": protocol,
            "max_concurrency": max_concurrency,
        }
        self.model = model
        self.rerank_model = rerank_model
        self.chunk_size = chunk_size
        self.progress = progress
        self.log = log
        self.llama: Any = None
        self.llama_embed: Any = None
        self.lc_store: Any = None
        self.lc_embed: Any = None
        if frameworks in ("both", "llamaindex"):
            self._build_llamaindex()
        if frameworks in ("both", "langchain"):
            self._build_langchain()

    def _build_llamaindex(self) -> None:
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        from llama_index_dashscope_embed import DashScopeEmbedding

        self.llama_embed = DashScopeEmbedding(model_name=self.model, **self.settings)
        documents = [Document(text=text, metadata={"source": name}) for name, text in self.corpus.items()]
        splitter = SentenceSplitter(chunk_size=self.chunk_size, chunk_overlap=min(64, self.chunk_size // 8))
        nodes = splitter.get_nodes_from_documents(documents)
        started = time.monotonic()
        # The index is given the embedding model explicitly and no LLM is ever asked for: retrieval only.
        self.llama = VectorStoreIndex(nodes, embed_model=self.llama_embed, show_progress=self.progress)
        seconds = time.monotonic() - started
        usage = self.llama_embed.usage
        self.log(
            f"LlamaIndex: {len(nodes)} chunks (SentenceSplitter, {self.chunk_size} tokens) indexed in "
            f"{seconds:.1f} s, {usage.total_tokens} tokens, {usage.requests} requests"
        )

    def _reranker(self) -> tuple[str, dict[str, Any]]:
        """The rerank model and the reranker's settings (the service's, the top passage only)."""
        if self.rerank_model is None:
            raise InvalidInputError("the demo was built with rerank_model=None: there is no reranker to ask")
        settings = {
            "base_url": self.settings["base_url"],
            "max_concurrency": self.settings["max_concurrency"],
            "top_n": 1,
        }
        return self.rerank_model, settings

    def rerank_llamaindex(self, question: str, candidates: int = RERANK_CANDIDATES) -> tuple[Passage, int]:
        """The passage ``DashScopeRerank`` (a node postprocessor) puts first among the top ``candidates``, and the
        tokens the rerank cost."""
        from llama_index_dashscope_embed import DashScopeRerank

        model, settings = self._reranker()
        rerank = DashScopeRerank(model_name=model, **settings)
        retriever = self.llama.as_retriever(similarity_top_k=candidates)
        (best,) = rerank.postprocess_nodes(retriever.retrieve(question), query_str=question)
        passage = Passage(best.node.metadata.get("source", "?"), float(best.score or 0.0), best.node.get_content())
        return passage, rerank.usage.total_tokens

    def rerank_langchain(self, question: str, candidates: int = RERANK_CANDIDATES) -> tuple[Passage, int]:
        """The passage ``DashScopeRerank`` (a document compressor) puts first among the top ``candidates``, and the
        tokens the rerank cost."""
        from langchain_dashscope_embed import DashScopeRerank

        model, settings = self._reranker()
        rerank = DashScopeRerank(model=model, **settings)
        (best,) = rerank.compress_documents(self.lc_store.similarity_search(question, k=candidates), question)
        passage = Passage(best.metadata.get("source", "?"), best.metadata["relevance_score"], best.page_content)
        return passage, rerank.usage.total_tokens

    def _build_langchain(self) -> None:
        from langchain_core.documents import Document
        from langchain_core.vectorstores import InMemoryVectorStore
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from langchain_dashscope_embed import DashScopeEmbeddings

        self.lc_embed = DashScopeEmbeddings(model=self.model, **self.settings)
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=4 * self.chunk_size, chunk_overlap=min(256, self.chunk_size // 2)
        )
        docs = splitter.split_documents(
            [Document(page_content=text, metadata={"source": name}) for name, text in self.corpus.items()]
        )
        docs = [d for d in docs if d.page_content.strip()]
        self.lc_store = InMemoryVectorStore(self.lc_embed)
        started = time.monotonic()
        batch = 50  # add in batches so the bar moves; each batch is 5 requests in flight together
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=len(docs), desc="LangChain embeddings", unit="chunk")
        for i in range(0, len(docs), batch):
            self.lc_store.add_documents(docs[i : i + batch])
            if bar is not None:
                bar.update(len(docs[i : i + batch]))
        if bar is not None:
            bar.close()
        seconds = time.monotonic() - started
        usage = self.lc_embed.usage
        self.log(
            f"LangChain: {len(docs)} chunks (RecursiveCharacterTextSplitter, {4 * self.chunk_size} characters) "
            f"indexed in {seconds:.1f} s, {usage.total_tokens} tokens, {usage.requests} requests"
        )

    def query_llamaindex(self, question: str, k: int = 3) -> tuple[list[Passage], int, float]:
        """Top ``k`` passages from LlamaIndex, the tokens the query cost, and seconds taken."""
        before = self.llama_embed.usage.total_tokens
        started = time.monotonic()
        hits = self.llama.as_retriever(similarity_top_k=k).retrieve(question)
        seconds = time.monotonic() - started
        passages = [
            Passage(h.node.metadata.get("source", "?"), float(h.score or 0.0), h.node.get_content()) for h in hits
        ]
        return passages, self.llama_embed.usage.total_tokens - before, seconds

    def query_langchain(self, question: str, k: int = 3) -> tuple[list[Passage], int, float]:
        """Top ``k`` passages from LangChain, the tokens the query cost, and seconds taken."""
        before = self.lc_embed.usage.total_tokens
        started = time.monotonic()
        hits = self.lc_store.similarity_search_with_score(question, k=k)
        seconds = time.monotonic() - started
        passages = [Passage(doc.metadata.get("source", "?"), float(score), doc.page_content) for doc, score in hits]
        return passages, self.lc_embed.usage.total_tokens - before, seconds


def _snippet(text: str, width: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def run_demo(args: argparse.Namespace) -> int:
    """The ``demo`` command: build both indexes, answer the questions, print passages, scores, tokens, times."""
    from .connection import resolve_endpoint

    started = time.monotonic()
    if args.docs is not None:
        corpus = load_directory(args.docs)
        what = f"{len(corpus)} files from {args.docs}"
    else:
        corpus = load_topics(None if args.all_topics else DEFAULT_TOPICS)
        what = (
            f"{len(corpus)} {'' if args.all_topics else 'selected '}topics of the Python language reference "
            "(pydoc_data.topics; --all-topics for all 79)"
        )
    questions = args.query or list(DEFAULT_QUESTIONS)
    with resolve_endpoint(
        base_url=args.base_url, local=args.local, backend=args.backend, require_credentials=False
    ) as endpoint:
        if endpoint.local_backend:
            print(
                f"No DASHSCOPE_API_KEY: using the {endpoint.description}."
                if not args.local
                else f"Using the {endpoint.description}.",
                flush=True,
            )
        else:
            print(f"Using {endpoint.description}.", flush=True)
        print(f"Corpus: {what}, {sum(len(t) for t in corpus.values()):,} characters", flush=True)
        indexes = DemoIndexes(
            corpus,
            model=args.model,
            dimensions=args.dimensions,
            base_url=endpoint.base_url,
            protocol=args.protocol,
            max_concurrency=args.max_concurrency,
            chunk_size=args.chunk_size,
            frameworks=args.framework,
            rerank_model=None if args.rerank == "none" else args.rerank,
            log=lambda line: print(line, flush=True),
        )
        for question in questions:
            print(f"\nQ: {question}")
            for name, query in (
                ("LlamaIndex", indexes.query_llamaindex if indexes.llama else None),
                ("LangChain", indexes.query_langchain if indexes.lc_store else None),
            ):
                if query is None:
                    continue
                passages, tokens, seconds = query(question, args.top_k)
                print(f"  {name} ({tokens} tokens, {seconds * 1000:.0f} ms):")
                for rank, p in enumerate(passages, 1):
                    print(f"    {rank}. {p.score:.4f}  [{p.source}]  {_snippet(p.text)}")
                if indexes.rerank_model:
                    rerank = indexes.rerank_llamaindex if name == "LlamaIndex" else indexes.rerank_langchain
                    best, tokens = rerank(question)
                    print(
                        f"    reranked by {indexes.rerank_model} (top {RERANK_CANDIDATES}, {tokens} tokens): "
                        f"{best.score:.4f}  [{best.source}]  {_snippet(best.text)}"
                    )
            sys.stdout.flush()
    print(f"\ndone in {time.monotonic() - started:.1f} s")
    return 0
