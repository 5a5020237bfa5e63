import json
import os

import pytest

# With DASHSCOPE_EMBED_OUTCOMES=path, every collected test and every phase's outcome is appended there as it happens
# (one JSON object a line, flushed), so a CI script can tell a process that died after its tests ran (Ray's
# shutdown at teardown, .ci/suite) from one that died in a test.
_OUTCOMES = os.environ.get("DASHSCOPE_EMBED_OUTCOMES")


def _record(entry: dict) -> None:
    if _OUTCOMES:
        with open(_OUTCOMES, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


def pytest_collection_finish(session):
    _record({"collected": [item.nodeid for item in session.items]})


def pytest_runtest_logreport(report):
    _record({"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome})


# needs_newest tests deselected by `-m "not needs_newest"` (the floor job), listed with their reasons at the end
_LEFT_OUT: list[tuple[str, str]] = []


def pytest_deselected(items):
    for item in items:
        mark = item.get_closest_marker("needs_newest")
        if mark is not None:
            _LEFT_OUT.append((item.nodeid, mark.kwargs.get("reason", "no reason given")))


def pytest_terminal_summary(terminalreporter):
    if _LEFT_OUT:
        terminalreporter.section("needs newer frameworks than the floors: not run")
        for nodeid, reason in _LEFT_OUT:
            terminalreporter.line(f"{nodeid}: {reason}")


@pytest.fixture(scope="session")
def hash_service_session():
    """One local service (hash backend, 127.0.0.1) for the whole session; stopped at its end."""
    from dashscope_embed.server import LocalService

    with LocalService(backend="hash") as service:
        yield service


@pytest.fixture
def hash_service(hash_service_session):
    """The shared hash service with no faults and zeroed statistics, and no faults left behind."""
    hash_service_session.set_faults(None)
    hash_service_session.reset_stats()
    yield hash_service_session
    hash_service_session.set_faults(None)
