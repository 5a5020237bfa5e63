"""A pickled MultimodalEmbedder (what IngestionPipeline(num_workers>1) and Ray workers receive) still embeds."""

import pickle

import numpy as np

from dashscope_embed import MultimodalEmbedder
from support.mm_images import image_bytes


def test_pickled_multimodal_engine_embeds_after_unpickling(hash_service, tmp_path):
    image = tmp_path / "red.png"
    image.write_bytes(image_bytes("png", seed=3))
    engine = MultimodalEmbedder(
        "multimodal-embedding-v1", base_url=hash_service.base_url, api_key="sk-mm-pickle-secret-77",
        max_concurrency=2, max_retries=0,
    )
    with engine:
        before = engine.embed_items(["a red square", {"image": str(image)}])  # clients, locks and pools exist now
        payload = pickle.dumps(engine)
    clone = pickle.loads(payload)
    with clone:
        after = clone.embed_items(["a red square", {"image": str(image)}])
    assert clone.model == "multimodal-embedding-v1" and clone.dimension == 1024
    assert clone.settings.api_key.get_secret_value() == "sk-mm-pickle-secret-77"
    np.testing.assert_array_equal(after.dense, before.dense)
    assert after.types == before.types


def test_learned_element_limit_travels_with_the_pickle(hash_service):
    engine = MultimodalEmbedder("qwen3-vl-embedding", base_url=hash_service.base_url, api_key="sk-x", max_retries=0)
    engine._max_rows = 3  # as if the service had named a smaller batch size
    clone = pickle.loads(pickle.dumps(engine))
    assert clone.max_rows == 3
    hash_service.reset_stats()
    result = clone.embed_texts([f"text {i}" for i in range(7)])
    assert result.dense.shape == (7, clone.dimension)
    assert hash_service.stats.requests == 3  # ceil(7 / 3)
