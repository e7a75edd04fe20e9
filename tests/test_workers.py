"""The analysis pool survives a worker that dies."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal

from pipeline import language
from pipeline.page import FetchedPage
from pipeline.workers import AnalysisPool

HTML = (
    "<html lang='en'><head><title>Bridge</title></head><body><article>"
    + "".join(
        f"<p>The harbour bridge reopened after repairs, part {n} of the story.</p>"
        for n in range(6)
    )
    + "</article></body></html>"
)


def page(n: int) -> FetchedPage:
    url = f"https://news.example.org/story-{n}"
    return FetchedPage(url, url, 200, HTML.encode(), {"content-type": "text/html"})


def test_a_killed_worker_is_replaced_and_its_pages_analysed_again() -> None:
    pool = AnalysisPool(1)
    try:
        assert pool.submit(page(0)).result(timeout=60).failure is None
        in_flight = [pool.submit(page(n)) for n in range(1, 4)]
        for worker in multiprocessing.active_children():
            os.kill(worker.pid, signal.SIGKILL)
        later = pool.submit(page(4))
        results = [future.result(timeout=60) for future in [*in_flight, later]]
        assert [r.url for r in results] == [
            f"https://news.example.org/story-{n}" for n in range(1, 5)
        ]
        assert all(r.failure is None and r.extraction for r in results)
        assert pool.restarts >= 1
        assert pool.align_many([(["One.", "Two."], ["Eins.", "Zwei."])])[0]
    finally:
        pool.close()


def test_a_page_submitted_to_a_closed_pool_fails_through_its_future() -> None:
    pool = AnalysisPool(1)
    pool.close()
    future = pool.submit(page(5))
    assert isinstance(future.exception(timeout=10), RuntimeError)


def _profiles_loaded() -> bool:
    return language._model.cache_info().currsize == 1


def test_workers_start_with_the_language_profiles_loaded_and_frozen() -> None:
    """The fork server loads the profiles once; a worker does not load them for its first page,
    and finds what the server loaded out of the cyclic GC's sight."""
    pool = AnalysisPool(1)
    try:
        assert pool.executor is not None
        assert pool.executor.submit(_profiles_loaded).result(timeout=60)
        assert pool.executor.submit(gc.get_freeze_count).result(timeout=60) > 0
    finally:
        pool.close()
