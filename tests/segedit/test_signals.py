"""SIGTERM ends a run the way Ctrl-C does: the same clean-up path, then exit 143."""
import multiprocessing
import os
import signal
import time

from segedit.signals import Terminated, terminate_as_interrupt

FORK = multiprocessing.get_context("fork")


def run_until_terminated(ready, cleaned) -> None:
    try:
        with terminate_as_interrupt():
            ready.set()
            time.sleep(20)
    except KeyboardInterrupt as exc:  # the CLI's Ctrl-C handler, unchanged
        cleaned.set()
        os._exit(exc.exit_code if isinstance(exc, Terminated) else 130)
    os._exit(0)


def test_sigterm_takes_the_ctrl_c_path_and_exits_143():
    ready, cleaned = FORK.Event(), FORK.Event()
    child = FORK.Process(target=run_until_terminated, args=(ready, cleaned))
    child.start()
    assert ready.wait(10)
    started = time.perf_counter()
    os.kill(child.pid, signal.SIGTERM)
    child.join(10)
    assert child.exitcode == 143 and cleaned.is_set()
    assert time.perf_counter() - started < 5


def test_previous_handler_comes_back():
    before = signal.getsignal(signal.SIGTERM)
    with terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
    assert Terminated(signal.SIGTERM).exit_code == 143 and isinstance(Terminated(signal.SIGTERM), KeyboardInterrupt)
