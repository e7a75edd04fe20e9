"""Values slow to build and quick to read back, kept between processes in the user's cache
directory (`$XDG_CACHE_HOME/newsalign`, by default `~/.cache/newsalign`) with `marshal`.

Every crawl's fork server packs the language profiles: 0.2-0.3 s of CPU at each start of a
crawl, against 0.07 s to read them back. A file is named by a digest of everything its value
depends on, written whole or not at all (a temporary file renamed), and replaces the files of
the same value under other keys; it is only ever a speed-up: one that cannot be read or written
is rebuilt or skipped.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


def cache_directory() -> Path:
    """Where newsalign keeps its cache files."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "newsalign"


def cached(name: str, key: Any, build: Callable[[], T], valid: Callable[[Any], bool]) -> T:
    """`build()`, or the value an earlier process built for the same `name` and `key` (any
    value `repr` describes fully); `valid` checks what is read back."""
    digest = hashlib.sha256(repr((marshal.version, sys.version_info[:2], key)).encode())
    path = cache_directory() / f"{name}-{digest.hexdigest()[:20]}.marshal"
    try:
        value = marshal.loads(path.read_bytes())
        if valid(value):
            return value  # type: ignore[no-any-return]
        logger.warning("ignoring the unexpected contents of %s", path)
    except FileNotFoundError:
        pass
    except (OSError, EOFError, ValueError, TypeError) as exc:
        logger.warning("ignoring the unreadable cache file %s: %r", path, exc)
    value = build()
    if _write(path, value):
        _remove_others(path, name)
    return value


def _write(path: Path, value: Any) -> bool:
    """Write `value` to `path` whole (a temporary file renamed); False, logged, if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                marshal.dump(value, file)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, ValueError) as exc:  # ValueError: a value marshal cannot write
        logger.info("not caching %s: %r", path.name, exc)
        return False
    return True


def _remove_others(path: Path, name: str) -> None:
    """Remove the files `name` had under other keys (out of date: each is tens of MB), and
    temporary files a killed process left behind over an hour ago."""
    stale_before = time.time() - 3600
    for other in path.parent.glob(f"{name}-*"):
        try:
            replaced = other.suffix == ".marshal" and other != path
            if replaced or (other.suffix == ".tmp" and other.stat().st_mtime < stale_before):
                other.unlink()
        except OSError:  # removed meanwhile by another process, or not ours to remove
            continue
