"""The undated tongyi vision models take the dimensions the seeds' model table lists (EN multimodal page)."""

from __future__ import annotations

import numpy as np
import pytest

from dashscope_embed import MultimodalEmbedder
from dashscope_embed.catalog import get_model_spec

SEEDS = {
    "tongyi-embedding-vision-plus": ((1152, 1024, 512, 256, 128, 64), 1152),
    "tongyi-embedding-vision-flash": ((768, 512, 256, 128, 64), 768),
}


@pytest.mark.parametrize("model", sorted(SEEDS))
def test_catalog_lists_the_seed_dimensions(model):
    dimensions, default = SEEDS[model]
    spec = get_model_spec(model)
    assert sorted(spec.dimensions) == sorted(dimensions) and spec.default_dimension == default


@pytest.mark.parametrize("model, dimension", [(m, d) for m, (dims, _) in sorted(SEEDS.items()) for d in dims])
def test_local_service_answers_every_seed_dimension(hash_service, model, dimension):
    with MultimodalEmbedder(model, dimensions=dimension, base_url=hash_service.base_url, max_retries=0) as engine:
        result = engine.embed_texts(["a red bicycle", "一辆红色自行车"])
    assert result.dense.shape == (2, dimension)
    np.testing.assert_allclose(np.linalg.norm(result.dense, axis=1), 1.0, rtol=1e-4)
