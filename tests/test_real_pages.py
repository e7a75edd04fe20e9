"""extract() and tag_edition() on the real pages of the shared data pack ($NEWSALIGN_DATA)."""

from __future__ import annotations

import pytest

from bench.datapack import (
    PageRun,
    f1_by_format,
    language_misses,
    load_pages,
    run_page,
    snippet_scores,
)

MIN_LANGUAGE_ACCURACY = 0.99

pytestmark = pytest.mark.usefixtures("data_pack")


@pytest.fixture(scope="module")
def runs() -> list[PageRun]:
    """Every page extracted and tagged once, with bare trafilatura.extract beside it."""
    return [run_page(page) for page in load_pages()]


def test_language_accuracy(runs: list[PageRun], capsys: pytest.CaptureFixture[str]) -> None:
    judged, misses = language_misses(runs)
    accuracy = 1 - len(misses) / judged
    with capsys.disabled():
        print(f"\nlanguage: {judged - len(misses)}/{judged} = {accuracy:.2%}")
        for run in misses:
            print(f"  {run.page.path}: truth {run.page.lang}, tagged {run.tags.lang}")
    assert judged > 250
    assert accuracy >= MIN_LANGUAGE_ACCURACY


def test_body_f1_not_below_bare_trafilatura(
    runs: list[PageRun], capsys: pytest.CaptureFixture[str]
) -> None:
    by_format = f1_by_format(runs)
    ours_snippets, bare_snippets = snippet_scores(runs)
    with capsys.disabled():
        print("\nbody F1 (ours / bare trafilatura.extract):")
        for name, (ours, bare, count) in by_format.items():
            print(f"  {name}: {ours:.4f} / {bare:.4f} over {count} pages")
        print(f"  snippet F1: {ours_snippets.f1:.4f} / {bare_snippets.f1:.4f}")
    assert set(by_format) == {
        "fundus-parser-json",
        "readability-expected",
        "aeb-ground-truth",
        "all full-text",
    }
    for name, (ours, bare, _) in by_format.items():
        assert ours >= bare, name
    assert ours_snippets.f1 >= bare_snippets.f1


def test_every_page_gives_text_or_a_reason(runs: list[PageRun]) -> None:
    for run in runs:
        assert bool(run.ours.paragraphs) != bool(run.ours.reason), run.page.path
        assert all(paragraph and "\n" not in paragraph for paragraph in run.ours.paragraphs)
        assert len(run.tags.paragraph_langs) == len(run.ours.paragraphs)
