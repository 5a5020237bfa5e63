"""notebooks/run.py's checks on executed notebooks, on small notebooks built here."""

from __future__ import annotations

import nbformat
from support.nb_support import runner
from nbformat.v4 import new_code_cell, new_notebook, new_output

LABEL = "Outputs from: the local service, not DashScope."


def executed(*printed: str) -> nbformat.NotebookNode:
    """A notebook of one code cell per text, each executed in order and having printed that text."""
    cells = []
    for count, text in enumerate(printed, start=1):
        cell = new_code_cell(f"print({text!r})", execution_count=count)
        cell.outputs = [new_output("stream", name="stdout", text=text + "\n")]
        cells.append(cell)
    return new_notebook(cells=cells)


def test_a_clean_notebook_has_no_problems():
    assert runner.problems(executed(LABEL, "[local e5, not DashScope] 0.871  [science.txt] Photosynthesis")) == []


def test_machine_details_in_outputs_are_refused():
    nb = executed(
        LABEL,
        "judged set: /home/someone/data/python_faq.json",
        "service at http://127.0.0.1:43117",
        "key sk-0123456789abcdef",
        "C:\\Users\\someone\\data",
    )
    found = runner.problems(nb)
    assert [message.split(":")[0] for message in found] == ["cell 1", "cell 2", "cell 3", "cell 4"], found
    assert "absolute path" in found[0] and "host:port" in found[1] and "API key" in found[2]


def test_literal_machine_strings_are_refused():
    nb = executed(LABEL, "wrote the index under srv2/data/checkout-7")
    assert runner.problems(nb) == []
    (message,) = runner.problems(nb, extra_forbidden=["srv2/data/checkout-7"])
    assert message.startswith("cell 1") and "srv2/data/checkout-7" in message


def test_unlabelled_unexecuted_and_timed_notebooks_are_refused():
    nb = executed("0.871  Photosynthesis", "done")
    nb.cells[1].execution_count = None
    nb.cells[0].metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    found = runner.problems(nb)
    assert any("execution counts [1, None]" in message for message in found), found
    assert any("where the outputs come from" in message for message in found), found
    assert any(message == "cell 0: timing metadata" for message in found), found


def test_errors_and_oversized_notebooks_and_images_are_refused():
    import base64

    nb = executed(LABEL)
    nb.cells[0].outputs.append(new_output("error", ename="ValueError", evalue="bad dimension", traceback=[]))
    nb.cells[0].outputs.append(
        new_output("display_data", data={"image/png": base64.b64encode(b"\0" * (runner.MAX_IMAGE_BYTES + 1)).decode()})
    )
    found = runner.problems(nb, size=runner.MAX_NOTEBOOK_BYTES + 1)
    assert any("ValueError: bad dimension" in message for message in found), found
    assert any("image/png output of" in message for message in found), found
    assert any(message.startswith(f"{runner.MAX_NOTEBOOK_BYTES + 1} bytes") for message in found), found


def test_tidy_records_the_source_and_code_hash_and_drops_timings():
    nb = executed(LABEL)
    nb.cells[0].metadata["execution"] = {"shell.execute_reply": "2026-01-01T00:00:01Z"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"}
    runner.tidy(nb, "local")
    assert "execution" not in nb.cells[0].metadata
    assert nb.metadata["language_info"] == {"name": "python"}
    assert nb.metadata[runner.METADATA_KEY] == {"outputs_from": "local", "code_sha256": runner.code_hash(nb)}
    before = runner.code_hash(nb)
    nb.cells[0].source += "\nprint('changed')"
    assert runner.code_hash(nb) != before


def test_declared_requirements_that_cannot_be_imported_are_reported():
    nb = executed(LABEL)
    nb.metadata[runner.METADATA_KEY] = {"requires": ["nbformat", "no_such_module_for_this_test"]}
    assert runner.missing_requirements(nb) == ["no_such_module_for_this_test"]


def test_the_local_kernel_environment_has_no_key(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-not-a-real-key")
    assert "DASHSCOPE_API_KEY" not in runner.kernel_env(local=True)
    assert runner.kernel_env(local=False)["DASHSCOPE_API_KEY"] == "sk-test-not-a-real-key"
