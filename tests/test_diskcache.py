"""The disk cache of slow-to-build values (the packed language profiles)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from langdetect.detector_factory import PROFILES_DIRECTORY

from pipeline import language
from pipeline.diskcache import cache_directory, cached


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "newsalign"


class Builder:
    """A build function that counts its calls."""

    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def is_dict(value: object) -> bool:
    return isinstance(value, dict)


def test_a_value_is_built_once_and_read_back_after(cache: Path) -> None:
    build = Builder({"gram": 1 << 200, "other": 7})  # big integers, as the profiles hold
    assert cached("thing", ("v1",), build, is_dict) == build.value
    assert cached("thing", ("v1",), build, is_dict) == build.value
    assert build.calls == 1
    assert cache_directory() == cache and len(list(cache.iterdir())) == 1
    assert cached("thing", ("v2",), build, is_dict) == build.value  # another key: built again
    assert build.calls == 2
    assert len(list(cache.iterdir())) == 1  # the out-of-date file is gone
    cached("other", ("v1",), build, is_dict)
    assert len(list(cache.iterdir())) == 2  # another value's file is not


def test_temporary_files_left_by_a_killed_process_are_removed_once_old(cache: Path) -> None:
    cache.mkdir(parents=True)
    old, recent = cache / "thing-abc.marshal123.tmp", cache / "thing-abd.marshal456.tmp"
    for leftover in (old, recent):
        leftover.write_bytes(b"partial")
    os.utime(old, (0, 0))
    cached("thing", 1, Builder({"a": 1}), is_dict)
    assert not old.exists() and recent.exists()


def test_an_unreadable_or_unexpected_file_is_rebuilt(cache: Path) -> None:
    build = Builder({"a": 1})
    cached("thing", 1, build, is_dict)
    (path,) = cache.iterdir()
    path.write_bytes(b"\x00not marshal")
    assert cached("thing", 1, build, is_dict) == {"a": 1}
    assert build.calls == 2
    assert cached("thing", 1, Builder({"b": 2}), lambda value: "b" in value) == {"b": 2}
    assert cached("thing", 1, build, is_dict) == {"b": 2}  # the rebuilt value was written


def test_a_cache_that_cannot_be_written_only_costs_a_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    build = Builder({"a": 1})
    assert cached("thing", 1, build, is_dict) == {"a": 1}
    assert cached("thing", 1, build, is_dict) == {"a": 1}
    assert build.calls == 2


def test_the_language_profiles_are_cached_and_follow_their_files(
    cache: Path, tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles"
    shutil.copytree(PROFILES_DIRECTORY, profiles)
    built = language._load_profiles(str(profiles))
    assert len(list(cache.iterdir())) == 1
    assert language._load_profiles(str(profiles)) == built
    assert len(list(cache.iterdir())) == 1
    first = next(iter(sorted(profiles.iterdir())))
    stat = first.stat()
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a changed file
    (before,) = cache.iterdir()
    assert language._load_profiles(str(profiles)) == built
    (after,) = cache.iterdir()
    assert after != before  # packed again, under another key
