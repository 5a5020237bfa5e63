import pytest

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
