import pytest


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
