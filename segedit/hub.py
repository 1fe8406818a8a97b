"""Whether the Hugging Face hub can be reached, decided once and quickly, before any model loads.

Without this, a machine with no network spends most of a minute in the hub libraries' retries
before a missing model fails, printing every retry on the way.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# Module-level copies of the offline switch that the libraries take at import time.
_OFFLINE_ATTRIBUTES = ("HF_HUB_OFFLINE", "_is_offline_mode")
_LIBRARY_PREFIXES = ("huggingface_hub", "transformers", "diffusers")
_CHATTY_LOGGERS = ("huggingface_hub", "urllib3", "transformers", "diffusers", "httpx", "filelock")


@dataclass(frozen=True)
class HubStatus:
    offline: bool
    reason: str  # why offline, or where the hub answered
    cache: Path  # the hub cache the libraries read and download into
    by_choice: bool = False  # offline because the user set HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE


def _is_true(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def prepare_hub(timeout: float = 1.5) -> HubStatus:
    """Probe the hub once; when it cannot be reached, switch this process to the local cache.

    Offline then means what HF_HUB_OFFLINE=1 means: models load from the cache or fail at once.
    """
    from huggingface_hub import constants  # light: no torch, no network

    cache = Path(constants.HF_HUB_CACHE)
    for variable in _OFFLINE_VARIABLES:
        if _is_true(os.environ.get(variable)):
            return HubStatus(True, f"{variable} is set", cache, by_choice=True)
    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    problem = _unreachable(endpoint, timeout)
    if problem is None:
        return HubStatus(False, f"{endpoint} reachable", cache)
    go_offline()
    return HubStatus(True, f"{endpoint} unreachable ({problem})", cache)


def _unreachable(endpoint: str, timeout: float) -> str | None:
    """Why a TCP connection to the endpoint (or the proxy that serves it) fails; None when it works."""
    parts = urlsplit(endpoint)
    host = parts.hostname
    if not host:
        return f"no host in {endpoint!r}"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"bad port in {endpoint!r}"
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_parts.hostname or host, proxy_parts.port or 80
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc.strerror or str(exc) or type(exc).__name__)

    # name resolution ignores socket timeouts; a daemon thread bounds the whole probe
    thread = threading.Thread(target=probe, name="hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else "timed out"


def go_offline() -> None:
    """Make the hub libraries of this process use only their caches, also the ones already imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(_LIBRARY_PREFIXES):
            continue
        for attribute in _OFFLINE_ATTRIBUTES:
            if getattr(module, attribute, None) is False:
                setattr(module, attribute, True)


@contextlib.contextmanager
def quiet_hub() -> Iterator[None]:
    """Hold the hub libraries' retry and download chatter back to errors while models load."""
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.ERROR))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def weights_hint(status: HubStatus, flag: str) -> str:
    """One line of advice for weights that could be neither found nor downloaded."""
    hint = f"weights are looked for in the Hugging Face cache {status.cache}; {flag} loads local weights"
    if status.offline and not status.by_choice:
        hint += ", or connect to the network once to download them"
    return hint
