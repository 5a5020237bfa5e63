"""Notebooks 04 and 05 executed afresh (nbclient, no key, local service) still show their figures as PNG images.

The test command's nbmake run executes every notebook but checks only that none errors; these check what the
notebooks show. Notebook 05 runs here on a tiny judged set passed through DASHSCOPE_EMBED_EVAL_DATA, which also
checks that the variable is honoured.
"""

from __future__ import annotations

import json

import pytest
from support.nb_support import image_size, png_outputs, runner, stream_text
from nbclient.exceptions import CellExecutionError

TINY_SET = {
    "docs": {
        "a": "Tuples are immutable sequences; their items cannot be reassigned.",
        "b": "The global interpreter lock lets one thread run Python bytecode at a time.",
        "c": "pip installs packages from the Python Package Index.",
        "d": "A generator function yields values lazily, one at a time.",
        "e": "Decorators wrap a function to add behaviour.",
    },
    "queries": {"q1": "Can I change a tuple after creating it?", "q2": "How do I install a package?",
                "q3": "Why don't threads run Python code in parallel?"},
    "qrels": {"q1": {"a": 1}, "q2": {"c": 1}, "q3": {"b": 1}},
}


def execute(prefix, **env):
    (path,) = runner.notebooks([prefix])
    kernel_env = runner.kernel_env(local=True)
    kernel_env.update(env)
    return runner.execute(path, kernel_env, timeout=300)


def test_notebook_05_plots_an_image_from_the_judged_set_it_is_given(tmp_path):
    (tmp_path / "python_faq.json").write_text(json.dumps(TINY_SET), encoding="utf-8")
    nb = execute("05", DASHSCOPE_EMBED_EVAL_DATA=str(tmp_path))
    printed = stream_text(nb)
    assert "judged set: python_faq.json from $DASHSCOPE_EMBED_EVAL_DATA" in printed
    assert "5 documents, 3 judged queries" in printed
    (image,) = png_outputs(nb)
    width, height = image_size(image)
    assert width > height >= 200, (width, height)


def test_notebook_05_refuses_an_evaluation_data_folder_without_the_set(tmp_path):
    with pytest.raises(CellExecutionError, match="DASHSCOPE_EMBED_EVAL_DATA=.*holds no python_faq.json"):
        execute("05", DASHSCOPE_EMBED_EVAL_DATA=str(tmp_path))


def test_notebook_04_shows_query_and_retrieved_images():
    nb = execute("04")
    images = png_outputs(nb)
    assert len(images) == 2  # image-to-image, then text-to-image
    sizes = [image_size(data) for data in images]
    # one row per query: six picture queries, three text queries
    assert sizes[0][1] > 1.5 * sizes[1][1], sizes
