"""Review actions on alignment pairs: each changes pairs and appends ReviewDecision rows.

Nothing is deleted. A pair merged into its predecessor, or created by a split that is undone,
becomes `stale` (no longer current), like a pair whose paragraphs changed. Every decision stores in
`previous` the state of the pairs it changed and a `batch` key shared by the rows of one action, so
`undo` can restore them by recording new decisions. Pair hashes are recomputed after every
boundary change, so decisions carry over when the article is aligned again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from pipeline.models import Alignment, AlignmentPair, Paragraph, ReviewDecision, utcnow
from pipeline.store import sha256

logger = logging.getLogger(__name__)

SIDES = ("src", "tgt")
DIRECTIONS = ("next", "back")
MAX_NOTE = 10_000
MAX_REVIEWER = 255
SNAPSHOT_FIELDS = (
    "position",
    "src_start",
    "src_end",
    "tgt_start",
    "tgt_end",
    "src_sha256",
    "tgt_sha256",
    "score",
    "status",
    "reviewer",
    "note",
)


class NotFoundError(LookupError):
    """No such pair or alignment (or the pair is no longer current)."""


class ActionError(ValueError):
    """The action cannot be applied as asked; the message says why."""


def check_reviewer(reviewer: str | None) -> str:
    """The reviewer's name, stripped; an ActionError when missing or too long."""
    name = (reviewer or "").strip()
    if not name:
        raise ActionError("enter your name as reviewer first")
    if len(name) > MAX_REVIEWER:
        raise ActionError(f"a reviewer name has at most {MAX_REVIEWER} characters")
    return name


def current_pair(session: Session, pair_id: int) -> AlignmentPair:
    """A pair that is not stale, or NotFoundError."""
    pair = session.get(AlignmentPair, pair_id)
    if pair is None or pair.status == "stale":
        raise NotFoundError(f"no current pair {pair_id}")
    return pair


def approve(session: Session, pair_id: int, reviewer: str) -> AlignmentPair:
    """Mark a pair approved."""
    return _set_status(session, pair_id, reviewer, "approved", "approve")


def reject(session: Session, pair_id: int, reviewer: str) -> AlignmentPair:
    """Mark a pair rejected."""
    return _set_status(session, pair_id, reviewer, "rejected", "reject")


def _set_status(
    session: Session, pair_id: int, reviewer: str, status: str, action: str
) -> AlignmentPair:
    pair = current_pair(session, pair_id)
    before = _snapshot(pair)
    _decide(pair, status, reviewer)
    _record(session, pair, action, reviewer, _batch(), [before])
    return pair


def set_note(session: Session, pair_id: int, reviewer: str, note: str) -> AlignmentPair:
    """Set (or, with an empty note, clear) a pair's note; its status stays."""
    if len(note) > MAX_NOTE:
        raise ActionError(f"a note has at most {MAX_NOTE} characters")
    pair = current_pair(session, pair_id)
    before = _snapshot(pair)
    pair.note = note.strip() or None
    pair.reviewer, pair.reviewed_at = reviewer, utcnow()
    _record(session, pair, "note", reviewer, _batch(), [before], note=pair.note)
    return pair


def approve_above(session: Session, alignment_id: int, reviewer: str, threshold: float) -> int:
    """Approve every pending pair of an alignment scoring at least `threshold`; returns how many."""
    if session.get(Alignment, alignment_id) is None:
        raise NotFoundError(f"no alignment {alignment_id}")
    pairs = session.scalars(
        select(AlignmentPair)
        .where(
            AlignmentPair.alignment_id == alignment_id,
            AlignmentPair.status == "pending",
            AlignmentPair.score >= threshold,
        )
        .order_by(AlignmentPair.position, AlignmentPair.id)
    ).all()
    batch = _batch()
    for pair in pairs:
        before = _snapshot(pair)
        _decide(pair, "approved", reviewer)
        _record(session, pair, "approve_above", reviewer, batch, [before])
    return len(pairs)


def merge(session: Session, pair_id: int, reviewer: str) -> AlignmentPair:
    """Merge a pair with the next one; the next one becomes stale."""
    pair = current_pair(session, pair_id)
    following = _next(session, pair)
    if following is None:
        raise ActionError("the last pair has no next pair to merge with")
    before = [_snapshot(pair), _snapshot(following)]
    for side in SIDES:
        start = min(_get(pair, side, "start"), _get(following, side, "start"))
        end = max(_get(pair, side, "end"), _get(following, side, "end"))
        _set_range(pair, side, start, end)
    pair.score = (pair.score + following.score) / 2
    _rehash(session, pair)
    _decide(pair, "edited", reviewer)
    _decide(following, "stale", reviewer)
    batch = _batch()
    _record(session, pair, "merge", reviewer, batch, before)
    _record(session, following, "merge", reviewer, batch, [])
    return pair


def split(
    session: Session,
    pair_id: int,
    reviewer: str,
    src_at: int | None = None,
    tgt_at: int | None = None,
) -> tuple[AlignmentPair, AlignmentPair]:
    """Split a pair before paragraph `src_at` / `tgt_at` (absolute positions) into two pairs.

    A side not given splits after its first paragraph when it has two or more, else stays whole
    in the first pair.
    """
    pair = current_pair(session, pair_id)
    if max(_size(pair, "src"), _size(pair, "tgt")) < 2:
        raise ActionError("only a pair with two or more paragraphs on a side can be split")
    cut = {"src": src_at, "tgt": tgt_at}
    for side in SIDES:
        start, end = _get(pair, side, "start"), _get(pair, side, "end")
        at = cut[side]
        if at is None:
            at = start + 1 if end - start >= 2 else end
        if not start <= at <= end:
            raise ActionError(f"{side} split point {at} is outside the pair ({start}-{end})")
        cut[side] = at
    second = AlignmentPair(alignment_id=pair.alignment_id, score=pair.score, status="edited")
    for side in SIDES:
        _set_range(second, side, cut[side], _get(pair, side, "end"))
    first_empty = all(cut[side] == _get(pair, side, "start") for side in SIDES)
    if first_empty or (_size(second, "src") == 0 and _size(second, "tgt") == 0):
        raise ActionError("a split must leave paragraphs in both pairs")
    before = _snapshot(pair)
    for side in SIDES:
        _set_range(pair, side, _get(pair, side, "start"), cut[side])
    _rehash(session, pair)
    _rehash(session, second)
    _insert_after(session, second, pair)
    _decide(pair, "edited", reviewer)
    _decide(second, "edited", reviewer)
    session.flush()
    batch = _batch()
    _record(session, pair, "split", reviewer, batch, [before], created=[second.id])
    _record(session, second, "split", reviewer, batch, [])
    return pair, second


def move_boundary(
    session: Session, pair_id: int, reviewer: str, side: str, direction: str
) -> tuple[AlignmentPair, AlignmentPair]:
    """Move the last paragraph of a side to the next pair ("next"), or take the next pair's first
    paragraph of that side ("back")."""
    if side not in SIDES or direction not in DIRECTIONS:
        raise ActionError(f"side is one of {SIDES} and direction one of {DIRECTIONS}")
    pair = current_pair(session, pair_id)
    following = _next(session, pair)
    if following is None:
        raise ActionError("the last pair has no next pair to move a paragraph to or from")
    boundary = _get(pair, side, "end")
    if boundary != _get(following, side, "start"):
        raise ActionError("the pair and the next one are not adjacent on that side")
    giver = pair if direction == "next" else following
    if _size(giver, side) == 0:
        raise ActionError(f"there is no {side} paragraph to move")
    before = [_snapshot(pair), _snapshot(following)]
    shift = -1 if direction == "next" else 1
    _set_range(pair, side, _get(pair, side, "start"), boundary + shift)
    _set_range(following, side, boundary + shift, _get(following, side, "end"))
    if any(_size(p, "src") == 0 and _size(p, "tgt") == 0 for p in (pair, following)):
        raise ActionError("that move would leave a pair without paragraphs; merge instead")
    for changed in (pair, following):
        _rehash(session, changed)
        _decide(changed, "edited", reviewer)
    batch = _batch()
    _record(session, pair, "move", reviewer, batch, before)
    _record(session, following, "move", reviewer, batch, [])
    return pair, following


def undo(session: Session, alignment_id: int, reviewer: str) -> list[AlignmentPair]:
    """Revert the reviewer's latest action on an alignment that is not undone yet.

    Records an `undo` decision for every pair it changed back; returns those pairs.
    """
    if session.get(Alignment, alignment_id) is None:
        raise NotFoundError(f"no alignment {alignment_id}")
    decisions = session.scalars(
        select(ReviewDecision)
        .where(ReviewDecision.alignment_id == alignment_id, ReviewDecision.reviewer == reviewer)
        .order_by(ReviewDecision.id.desc())
    ).all()
    target = _last_undoable(decisions)
    if target is None:
        raise ActionError(f"{reviewer} has nothing left to undo here")
    batch_key = (target.previous or {}).get("batch")
    group = [d for d in decisions if d.previous and d.previous.get("batch") == batch_key]
    restored: list[AlignmentPair] = []
    for decision in group:
        restored += _revert(session, decision)
    batch = _batch()
    undone = sorted(d.id for d in group)
    for pair in restored:
        _record(session, pair, "undo", reviewer, batch, [], undoes=undone)
    return restored


def _last_undoable(decisions: Sequence[ReviewDecision]) -> ReviewDecision | None:
    undone = {
        i for d in decisions if d.action == "undo" and d.previous for i in d.previous["undoes"]
    }
    for decision in decisions:
        if decision.action != "undo" and decision.id not in undone:
            if not decision.previous:
                raise ActionError(f"decision {decision.id} was recorded without undo state")
            return decision
    return None


def _revert(session: Session, decision: ReviewDecision) -> list[AlignmentPair]:
    previous = decision.previous or {}
    restored = []
    for created_id in previous.get("created", []):
        created = session.get(AlignmentPair, created_id)
        if created is not None:
            created.status = "stale"
            restored.append(created)
    for snap in previous.get("pairs", []):
        pair = session.get(AlignmentPair, snap["id"])
        if pair is None:
            logger.warning("pair %s is gone; decision %s not undone", snap["id"], decision.id)
            continue
        for field in SNAPSHOT_FIELDS:
            setattr(pair, field, snap[field])
        reviewed_at = snap["reviewed_at"]
        pair.reviewed_at = datetime.fromisoformat(reviewed_at) if reviewed_at else None
        restored.append(pair)
    return restored


def _snapshot(pair: AlignmentPair) -> dict[str, Any]:
    snap: dict[str, Any] = {field: getattr(pair, field) for field in SNAPSHOT_FIELDS}
    snap["id"] = pair.id
    snap["reviewed_at"] = pair.reviewed_at.isoformat() if pair.reviewed_at else None
    return snap


def _record(
    session: Session,
    pair: AlignmentPair,
    action: str,
    reviewer: str,
    batch: str,
    before: list[dict[str, Any]],
    *,
    created: list[int] | None = None,
    note: str | None = None,
    undoes: list[int] | None = None,
) -> None:
    previous: dict[str, Any] = {"batch": batch, "pairs": before, "created": created or []}
    if undoes is not None:
        previous["undoes"] = undoes
    session.add(
        ReviewDecision(
            pair_id=pair.id,
            alignment_id=pair.alignment_id,
            action=action,
            status=pair.status,
            src_sha256=pair.src_sha256,
            tgt_sha256=pair.tgt_sha256,
            reviewer=reviewer,
            note=note,
            previous=previous,
        )
    )
    session.flush()


def _batch() -> str:
    return uuid.uuid4().hex


def _decide(pair: AlignmentPair, status: str, reviewer: str) -> None:
    pair.status, pair.reviewer, pair.reviewed_at = status, reviewer, utcnow()


def _next(session: Session, pair: AlignmentPair) -> AlignmentPair | None:
    return session.scalar(
        select(AlignmentPair)
        .where(
            AlignmentPair.alignment_id == pair.alignment_id,
            AlignmentPair.status != "stale",
            or_(
                AlignmentPair.position > pair.position,
                and_(AlignmentPair.position == pair.position, AlignmentPair.id > pair.id),
            ),
        )
        .order_by(AlignmentPair.position, AlignmentPair.id)
        .limit(1)
    )


def _insert_after(session: Session, pair: AlignmentPair, after: AlignmentPair) -> None:
    """Give `pair` the position right after `after`, shifting later pairs; then add it."""
    session.execute(
        update(AlignmentPair)
        .where(
            AlignmentPair.alignment_id == after.alignment_id,
            AlignmentPair.position > after.position,
        )
        .values(position=AlignmentPair.position + 1)
    )
    pair.position = after.position + 1
    session.add(pair)


def _get(pair: AlignmentPair, side: str, edge: str) -> int:
    return int(getattr(pair, f"{side}_{edge}"))


def _set_range(pair: AlignmentPair, side: str, start: int, end: int) -> None:
    setattr(pair, f"{side}_start", start)
    setattr(pair, f"{side}_end", end)


def _size(pair: AlignmentPair, side: str) -> int:
    return _get(pair, side, "end") - _get(pair, side, "start")


def _rehash(session: Session, pair: AlignmentPair) -> None:
    """Recompute a pair's hashes from its paragraphs, as pipeline.aligning writes them."""
    alignment = session.get_one(Alignment, pair.alignment_id)
    for side, revision_id in (
        ("src", alignment.src_revision_id),
        ("tgt", alignment.tgt_revision_id),
    ):
        texts = session.scalars(
            select(Paragraph.text)
            .where(
                Paragraph.revision_id == revision_id,
                Paragraph.position >= _get(pair, side, "start"),
                Paragraph.position < _get(pair, side, "end"),
            )
            .order_by(Paragraph.position)
        )
        setattr(pair, f"{side}_sha256", sha256("\n".join(texts)))
