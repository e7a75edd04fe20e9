"""Imported once by the fork server the analysis workers fork from (`AnalysisPool`): the
analysis modules and the language profiles are loaded before any worker starts, so workers
start at once and share that memory, kept out of the cyclic GC's sight."""

from pipeline import language, workers

language.preload()
workers.settle_garbage_collector()
