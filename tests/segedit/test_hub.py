"""The hub probe: a machine without network learns it in a second and loads from the cache only.

Only local addresses are ever contacted: the endpoint is pointed at 127.0.0.1.
"""
import logging
import os
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import constants

from segedit import hub

HUB_SOURCE = Path(hub.__file__)


@pytest.fixture
def online_environment(monkeypatch):
    """No offline switches and no proxies; whatever prepare_hub changes is put back afterwards."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "http_proxy", "https_proxy", "all_proxy",
                     "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return monkeypatch


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once closed: nothing listens there


def test_unreachable_hub_switches_to_the_cache_within_two_seconds(online_environment):
    online_environment.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    # diffusers keeps its own copies of the switch, taken when it was imported
    copy = types.ModuleType("diffusers.utils.hub_copy")
    copy.HF_HUB_OFFLINE = False
    online_environment.setitem(sys.modules, copy.__name__, copy)
    started = time.perf_counter()
    status = hub.prepare_hub(timeout=1.5)
    assert time.perf_counter() - started < 2
    assert status.offline and not status.by_choice and "unreachable" in status.reason
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert constants.HF_HUB_OFFLINE is True and huggingface_hub.is_offline_mode() and copy.HF_HUB_OFFLINE is True
    assert status.cache == Path(constants.HF_HUB_CACHE)


def test_reachable_hub_changes_nothing(online_environment):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        online_environment.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        status = hub.prepare_hub(timeout=1.5)
    assert not status.offline and "HF_HUB_OFFLINE" not in os.environ and constants.HF_HUB_OFFLINE is False


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_by_choice_probes_nothing(online_environment, variable):
    online_environment.setenv(variable, "1")

    def no_connection(*args, **kwargs):
        raise AssertionError("offline by choice must not touch the network")

    online_environment.setattr(socket, "create_connection", no_connection)
    status = hub.prepare_hub()
    assert status.offline and status.by_choice and variable in status.reason


def test_cache_location_honours_hf_home_without_importing_torch(tmp_path):
    # a fresh interpreter: the hub constants are read at import, as in a real run
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('hub', {str(HUB_SOURCE)!r})\n"
        "module = sys.modules['hub'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(module.prepare_hub().cache, 'torch' in sys.modules)\n"
    )
    environment = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    environment.pop("HF_HUB_CACHE", None)
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "hf" / "hub"), "False"]


def test_weights_hint_names_cache_and_flag_and_offers_download_only_when_not_chosen(tmp_path):
    chosen = hub.HubStatus(True, "HF_HUB_OFFLINE is set", tmp_path, by_choice=True)
    cut_off = hub.HubStatus(True, "https://hub.example unreachable (Connection refused)", tmp_path)
    for status in (chosen, cut_off):
        hint = hub.weights_hint(status, "--clip-weights FILE")
        assert str(tmp_path) in hint and "--clip-weights FILE" in hint and "\n" not in hint
    assert "connect" not in hub.weights_hint(chosen, "--clip-weights FILE")
    assert "connect to the network once" in hub.weights_hint(cut_off, "--clip-weights FILE")
    # online, the weights were not found on the hub either: connecting would not help
    online = hub.HubStatus(False, "https://hub.example reachable", tmp_path)
    assert "connect" not in hub.weights_hint(online, "--clip-weights FILE")


def test_quiet_hub_holds_retry_warnings_back_and_restores_levels():
    retries = logging.getLogger("huggingface_hub.utils._http")
    before = logging.getLogger("urllib3").level
    with hub.quiet_hub():
        assert not retries.isEnabledFor(logging.WARNING) and retries.isEnabledFor(logging.ERROR)
        assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.WARNING)
    assert logging.getLogger("urllib3").level == before
