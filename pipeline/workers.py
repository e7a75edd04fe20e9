"""Analysing and aligning in worker processes, so the work runs on every core, not in Scrapy's
thread."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from typing import Any

from pipeline.align import Bead, align_pairs
from pipeline.ingest import PageAnalysis, analyse
from pipeline.page import FetchedPage

logger = logging.getLogger(__name__)


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class AnalysisPool:
    """`analyse` and `align` in a pool of worker processes; with 0 workers, in the calling
    thread.

    A worker that dies (killed for memory, or crashed in a parser) breaks a process pool for
    good; here a fresh pool takes its place and the pages that were in flight are analysed
    again, up to `RETRIES` times, so one bad page costs only its own analysis.
    """

    RETRIES = 2

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.restarts = 0
        self.lock = threading.Lock()
        self.executor: ProcessPoolExecutor | None = self._new_executor() if workers > 0 else None

    def _new_executor(self) -> ProcessPoolExecutor:
        start_worker_server()
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
        )

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """The pool in place of `broken`: a new one, started once however many callers ask."""
        with self.lock:
            if self.executor is broken:
                logger.error("an analysis worker died; starting a new pool of %d", self.workers)
                self.executor = self._new_executor()  # a broken pool cleans up after itself
                self.restarts += 1
            assert self.executor is not None
            return self.executor

    def submit(self, page: FetchedPage) -> Future[PageAnalysis]:
        """A future analysis of `page`."""
        future: Future[PageAnalysis] = Future()
        if self.executor is None:
            try:
                future.set_result(analyse(page))
            except Exception as exc:  # handed to the caller through the future, as the pool does
                future.set_exception(exc)
            return future
        self._attempt(page, future, self.RETRIES)
        return future

    def _attempt(self, page: FetchedPage, outer: Future[PageAnalysis], retries: int) -> None:
        executor = self.executor
        assert executor is not None
        try:
            try:
                inner = executor.submit(analyse, page)
            except BrokenProcessPool:
                executor = self._replace(executor)
                inner = executor.submit(analyse, page)
        except Exception as exc:  # e.g. the pool was shut down: never leave `outer` unsettled
            outer.set_exception(exc)
            return

        def settle(done: Future[PageAnalysis]) -> None:
            error = _error_of(done)
            if isinstance(error, BrokenProcessPool) and retries > 0:
                self._replace(executor)
                self._attempt(page, outer, retries - 1)
            elif isinstance(error, BrokenProcessPool):
                died = f"the worker analysing this page died on all {self.RETRIES + 1} attempts"
                outer.set_exception(WorkerDied(died))
            elif error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(done.result())

        inner.add_done_callback(settle)

    def align_many(self, pairs: Sequence[tuple[list[str], list[str]]]) -> list[list[Bead]]:
        """Align (source, target) paragraph lists on the workers; results in order (here, if
        the pool breaks)."""
        try:
            return self.align_later(pairs).result()
        except BrokenProcessPool:
            logger.warning("aligning %d pairs in the crawl process instead", len(pairs))
            return align_pairs(pairs)

    def align_later(self, pairs: Sequence[tuple[list[str], list[str]]]) -> Future[list[list[Bead]]]:
        """A future alignment of (source, target) paragraph lists, spread over the workers;
        aligned here at once without workers. A broken pool fails the future (and is replaced)."""
        outer: Future[list[list[Bead]]] = Future()
        executor = self.executor
        if executor is None or not pairs:
            outer.set_result(align_pairs(pairs))
            return outer
        size = max(1, -(-len(pairs) // (2 * self.workers)))
        try:
            parts = [
                executor.submit(align_pairs, pairs[start : start + size])
                for start in range(0, len(pairs), size)
            ]
        except BrokenProcessPool as exc:
            self._replace(executor)
            outer.set_exception(exc)
            return outer
        except Exception as exc:  # e.g. the pool was shut down
            outer.set_exception(exc)
            return outer

        lock = threading.Lock()

        def gather(_: Future[list[list[Bead]]]) -> None:
            with lock:
                if outer.done() or not all(part.done() for part in parts):
                    return
                errors = [_error_of(part) for part in parts]
                error = next((e for e in errors if e is not None), None)
                if error is None:
                    outer.set_result([beads for part in parts for beads in part.result()])
                    return
                if isinstance(error, BrokenProcessPool):
                    self._replace(executor)
                outer.set_exception(error)

        for part in parts:
            part.add_done_callback(gather)
        return outer

    def close(self) -> None:
        """Stop the workers once their work is done."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=False)


def start_worker_server() -> None:
    """Start the server the analysis workers fork from, if it is not running: it loads the
    analysis modules and language profiles once, in a process of its own, and the workers share
    that memory instead of each loading them. Started early, it loads them while the crawl
    process starts and fetches its first pages."""
    forkserver.set_forkserver_preload(["pipeline.forkserver_preload"])
    forkserver.ensure_running()


def settle_garbage_collector() -> None:
    """Move what start-up built (modules, ORM mappings, Scrapy's machinery) out of the cyclic
    collector's sight: full collections otherwise walk every object ever imported, again and
    again. The collection thresholds stay as they are: collecting young objects less often
    left more dead pages in memory (a crawl of real pages grew by 30-60 MB)."""
    gc.freeze()


def _error_of(future: Future[Any]) -> BaseException | None:
    """A done future's error; a cancelled one counts as a broken pool."""
    return BrokenProcessPool("cancelled") if future.cancelled() else future.exception()


class WorkerDied(RuntimeError):
    """A page whose analysis killed its worker process on every attempt."""


def _start_worker(parent: int) -> None:
    """Worker initializer: exit once the crawl process that started the pool is gone. (The
    preloaded modules are already out of the cyclic GC's sight: the fork server froze them
    before forking, see `pipeline.forkserver_preload`.)"""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(parent, 0)
            except (ProcessLookupError, PermissionError):  # gone, or the pid was reused
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-crawl", daemon=True).start()
