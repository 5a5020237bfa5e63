"""The notebooks as committed: executed, current, labelled, clean, listed in the README, with their images."""

from __future__ import annotations

import nbformat
import pytest
from support.nb_support import NOTEBOOKS, image_size, png_outputs, runner, stream_text

PATHS = runner.notebooks()
IDS = [path.name[:2] for path in PATHS]


def test_the_runner_finds_the_numbered_notebooks():
    assert [path.name for path in PATHS] == sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert len(PATHS) >= 5


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_committed_with_clean_outputs(path):
    """Executed top to bottom, no errors, no paths/ports/keys/timings, first line says where outputs come from."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    assert runner.problems(nb, len(text.encode("utf-8"))) == []


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_outputs_were_produced_by_the_current_code(path):
    """A notebook whose code changed after its outputs were written must be re-run with notebooks/run.py."""
    nb = nbformat.read(path, as_version=4)
    recorded = nb.metadata.get(runner.METADATA_KEY, {})
    assert recorded.get("code_sha256") == runner.code_hash(nb), f"run: python notebooks/run.py {path.name[:2]}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_outputs_say_where_they_came_from(path):
    nb = nbformat.read(path, as_version=4)
    source = nb.metadata[runner.METADATA_KEY]["outputs_from"]
    first = runner.first_output_line(nb)
    lines = stream_text(nb).splitlines()
    if source == "local":
        assert "local" in first and "DASHSCOPE_API_KEY" in first, first
        # the results themselves carry the label, not only the first line
        assert sum("not DashScope" in line for line in lines[1:]) >= 2, lines
    else:
        assert source == "dashscope" and first.startswith("Outputs from: DashScope"), (source, first)


@pytest.mark.parametrize(("prefix", "at_least"), [("04", 2), ("05", 1)])
def test_committed_notebook_shows_its_figures_as_png(prefix, at_least):
    (path,) = runner.notebooks([prefix])
    images = png_outputs(nbformat.read(path, as_version=4))
    assert len(images) >= at_least
    for data in images:
        width, height = image_size(data)
        assert width >= 300 and height >= 200, (width, height)


def test_no_figure_is_left_as_text():
    """``<Figure size ...>`` in an output means a plot that did not render as an image."""
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                plain = output.get("data", {}).get("text/plain", "")
                assert "<Figure size" not in plain or "image/png" in output.get("data", {}), (path.name, plain)


def test_readme_lists_every_notebook_with_what_it_shows():
    rows = {}
    for line in (NOTEBOOKS / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].strip("`").endswith(".ipynb"):
            rows[cells[0].strip("`")] = cells[1]
    assert sorted(rows) == [path.name for path in PATHS]
    assert all(len(description) > 20 for description in rows.values()), rows


def test_readme_documents_the_evaluation_data_variable():
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    assert "DASHSCOPE_EMBED_EVAL_DATA" in readme
    (path,) = runner.notebooks(["05"])
    assert "DASHSCOPE_EMBED_EVAL_DATA" in path.read_text(encoding="utf-8")
