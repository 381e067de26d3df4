"""What every runtime shares (tinyctl/targets/base.py): the start thread and the API's URL."""

from __future__ import annotations

import threading

import pytest

from tinyctl.errors import WorkFailed
from tinyctl.targets.base import StartHandle, http_url, reachable_host


def test_a_start_in_a_thread_hands_its_error_to_the_caller() -> None:
    ended = threading.Event()

    def fail() -> str:
        raise WorkFailed("compose up failed")

    handle = StartHandle.in_thread(fail, stop=lambda: None, grace=1, name="t", on_end=ended.set)
    with pytest.raises(WorkFailed, match="compose up failed"):
        handle.result()
    assert handle.done() and ended.is_set()


def test_cancel_stops_the_work_and_waits_for_it() -> None:
    stopping = threading.Event()

    def work() -> str:
        stopping.wait(10)
        return "stopped"

    handle = StartHandle.in_thread(work, stop=stopping.set, grace=5, name="t")
    assert not handle.done()
    handle.cancel()
    assert handle.done() and handle.result() == "stopped"


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("192.168.1.5", "http://192.168.1.5:8080"),
        ("::1", "http://[::1]:8080"),
    ],
)
def test_the_api_url_from_the_bind_address(bind: str, url: str) -> None:
    assert http_url(bind, 8080) == url
    assert reachable_host(bind) == url.removeprefix("http://").rsplit(":", 1)[0].strip("[]")
