"""Cassette fixtures: pytest-recording configuration and the service each test records against or replays."""

from __future__ import annotations

from pathlib import Path

from support import cassette_support as cs
import pytest

_HERE = Path(__file__).resolve().parent


def _recording(config: pytest.Config) -> bool:
    return (config.getoption("--record-mode") or "none") != "none"


def pytest_recording_configure(config, vcr):
    cs.register_matchers(vcr)


def pytest_collection_modifyitems(config, items):
    # Recording against the real service needs the network, which the suite's addopts block (loopback only);
    # pytest-socket lifts the block for items marked ``enable_socket``. Only cassette tests here get the mark.
    if not (_recording(config) and cs.real_key()):
        return
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents and item.get_closest_marker("vcr"):
            item.add_marker(pytest.mark.enable_socket)


@pytest.fixture(scope="module")
def vcr_cassette_dir(request):
    """``tests/cassettes/<test module>/``: every cassette of the suite under one folder."""
    return str(cs.CASSETTE_ROOT / Path(str(request.node.fspath)).stem)


@pytest.fixture(scope="module")
def vcr_config():
    return cs.vcr_config()


@pytest.fixture(scope="session")
def _local_recording_service(record_mode):
    """A hash-backend service for local recordings; started only when recording without a real key."""
    if record_mode == "none" or cs.real_key():
        yield None
        return
    from dashscope_embed.server import LocalService

    with LocalService(backend="hash", api_key=cs.LOCAL_RECORDING_KEY) as svc:
        yield svc


@pytest.fixture
def target(record_mode, _local_recording_service) -> cs.Target:
    """Replay target by default; the real service or the local one while recording (see ``cassette_support``)."""
    if record_mode == "none":
        return cs.replay_target()
    if cs.real_key():
        return cs.real_target()
    return cs.local_target(_local_recording_service.base_url)
