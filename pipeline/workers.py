"""Analysing and aligning in worker processes, so the work runs on every core, not in Scrapy's
thread."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor

from pipeline.align import Bead, align
from pipeline.ingest import PageAnalysis, analyse
from pipeline.page import FetchedPage


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class AnalysisPool:
    """`analyse` and `align` in a pool of worker processes; with 0 workers, in the calling
    thread."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor: Executor | None = None
        if workers > 0:
            context = multiprocessing.get_context("forkserver")
            # workers fork from a server that has imported the analysis modules once, sharing
            # their memory (trafilatura, lxml, language profiles) instead of each loading them
            context.set_forkserver_preload(["pipeline.workers"])
            self.executor = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_exit_with, initargs=(os.getpid(),)
            )

    def submit(self, page: FetchedPage) -> Future[PageAnalysis]:
        """A future analysis of `page`."""
        if self.executor is not None:
            return self.executor.submit(analyse, page)
        future: Future[PageAnalysis] = Future()
        try:
            future.set_result(analyse(page))
        except Exception as exc:  # handed to the caller through the future, as the pool does
            future.set_exception(exc)
        return future

    def align_many(self, pairs: Sequence[tuple[list[str], list[str]]]) -> list[list[Bead]]:
        """Align (source, target) paragraph lists on the workers; results in order."""
        if self.executor is None:
            return [align(src, tgt) for src, tgt in pairs]
        return list(self.executor.map(_align, pairs, chunksize=4))

    def close(self) -> None:
        """Stop the workers once their work is done."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=False)


def _align(pair: tuple[list[str], list[str]]) -> list[Bead]:
    return align(*pair)


def _exit_with(parent: int) -> None:
    """Worker initializer: exit once the crawl process that started the pool is gone."""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(parent, 0)
            except (ProcessLookupError, PermissionError):  # gone, or the pid was reused
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-crawl", daemon=True).start()
