"""The relational schema: SQLAlchemy 2.0 ORM classes for every table newsalign writes.

Times are stored as timezone-aware UTC. Publication dates stay ISO strings as the page gave them
(often only a day), so they sort and compare as text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

URL = String(2048)
LANG = String(35)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class Site(Base):
    """A host that publishes editions."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    url_pattern: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Site(id={self.id!r}, host={self.host!r})"


class Article(Base):
    """One story: the cluster of its editions in every language."""

    __tablename__ = "articles"
    __table_args__ = ({"sqlite_autoincrement": True},)  # merged articles' ids are never reused
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    cluster_key: Mapped[str] = mapped_column(URL, unique=True)
    pivot_lang: Mapped[str | None] = mapped_column(LANG)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    editions: Mapped[list[Edition]] = relationship(back_populates="article")

    def __repr__(self) -> str:
        return f"Article(id={self.id!r}, cluster_key={self.cluster_key!r})"


class Edition(Base):
    """One language version of an article at one URL (the URL it was fetched from)."""

    __tablename__ = "editions"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    url: Mapped[str] = mapped_column(URL, unique=True)
    requested_url: Mapped[str | None] = mapped_column(URL)
    canonical_url: Mapped[str | None] = mapped_column(URL)
    declared_lang: Mapped[str | None] = mapped_column(LANG)
    declared_source: Mapped[str | None] = mapped_column(String(32))
    detected_lang: Mapped[str | None] = mapped_column(LANG, index=True)
    lang_confidence: Mapped[float | None] = mapped_column(Float)
    lang: Mapped[str | None] = mapped_column(LANG, index=True)
    lang_source: Mapped[str | None] = mapped_column(String(16))
    lang_mismatch: Mapped[bool] = mapped_column(Boolean, default=False)
    mixed_lang: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[str | None] = mapped_column(String(40))
    sitename: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(URL)
    text: Mapped[str] = mapped_column(Text, default="")
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    http_status: Mapped[int | None] = mapped_column(Integer)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    charset: Mapped[str | None] = mapped_column(String(40))
    charset_source: Mapped[str | None] = mapped_column(String(16))
    extractor_version: Mapped[str | None] = mapped_column(String(64))
    unchanged_fetches: Mapped[int] = mapped_column(Integer, default=0)
    next_fetch_at: Mapped[datetime | None] = mapped_column(index=True)
    found_via: Mapped[str] = mapped_column(String(16), default="start")
    found_from: Mapped[str | None] = mapped_column(URL)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_fetched: Mapped[datetime] = mapped_column(default=utcnow)
    last_changed: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="editions")
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="edition", order_by="Revision.number"
    )

    def __repr__(self) -> str:
        return f"Edition(id={self.id!r}, lang={self.lang!r}, url={self.url!r})"


class Revision(Base):
    """A distinct text an edition has had; nothing is overwritten."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("edition_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    word_count: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)

    edition: Mapped[Edition] = relationship(back_populates="revisions")
    paragraphs: Mapped[list[Paragraph]] = relationship(order_by="Paragraph.position")

    def __repr__(self) -> str:
        return f"Revision(id={self.id!r}, edition_id={self.edition_id!r}, number={self.number!r})"


class Paragraph(Base):
    """One paragraph of a revision, in order, with its detected language."""

    __tablename__ = "paragraphs"
    __table_args__ = (UniqueConstraint("revision_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(LANG)

    def __repr__(self) -> str:
        return f"Paragraph(revision_id={self.revision_id!r}, position={self.position!r})"


class EditionLink(Base):
    """An alternate edition that a page declares, with where the declaration was found."""

    __tablename__ = "edition_links"
    __table_args__ = (UniqueConstraint("edition_id", "target_url", "hreflang", "source"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"), index=True)
    target_url: Mapped[str] = mapped_column(URL, index=True)
    hreflang: Mapped[str] = mapped_column(LANG)
    source: Mapped[str] = mapped_column(String(16))
    reciprocal: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"EditionLink({self.edition_id!r} -> {self.target_url!r} [{self.hreflang}])"


class Alignment(Base):
    """Paragraph alignment of one edition (usually the pivot) with another."""

    __tablename__ = "alignments"
    __table_args__ = (UniqueConstraint("src_edition_id", "tgt_edition_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    src_edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"))
    tgt_edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"))
    src_revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"))
    tgt_revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"))
    method: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    pairs: Mapped[list[AlignmentPair]] = relationship(order_by="AlignmentPair.position")

    def __repr__(self) -> str:
        return f"Alignment(id={self.id!r}, {self.src_edition_id!r}->{self.tgt_edition_id!r})"


class AlignmentPair(Base):
    """One bead: source paragraphs [src_start, src_end) with target [tgt_start, tgt_end)."""

    __tablename__ = "alignment_pairs"
    __table_args__ = ({"sqlite_autoincrement": True},)  # pair ids stay stable for reviewers
    id: Mapped[int] = mapped_column(primary_key=True)
    alignment_id: Mapped[int] = mapped_column(ForeignKey("alignments.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    src_start: Mapped[int] = mapped_column(Integer)
    src_end: Mapped[int] = mapped_column(Integer)
    tgt_start: Mapped[int] = mapped_column(Integer)
    tgt_end: Mapped[int] = mapped_column(Integer)
    src_sha256: Mapped[str] = mapped_column(String(64))
    tgt_sha256: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reviewer: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"AlignmentPair(id={self.id!r}, status={self.status!r})"


class ReviewDecision(Base):
    """The audit trail of review decisions; earlier decisions are kept, never overwritten."""

    __tablename__ = "review_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int | None] = mapped_column(
        ForeignKey("alignment_pairs.id", ondelete="SET NULL"), index=True
    )
    alignment_id: Mapped[int] = mapped_column(ForeignKey("alignments.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    src_sha256: Mapped[str] = mapped_column(String(64))
    tgt_sha256: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EditionPair(Base):
    """How sure we are that two editions of an article are translations of each other."""

    __tablename__ = "edition_pairs"
    __table_args__ = (UniqueConstraint("edition_a_id", "edition_b_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    edition_a_id: Mapped[int] = mapped_column(ForeignKey("editions.id"))
    edition_b_id: Mapped[int] = mapped_column(ForeignKey("editions.id"))
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    suspect: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_by: Mapped[str | None] = mapped_column(String(255))
    confirmed_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"EditionPair({self.edition_a_id!r}, {self.edition_b_id!r}, {self.confidence:.2f})"


class Source(Base):
    """A feed/sitemap set crawled on a schedule."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    feeds: Mapped[list[str]] = mapped_column(JSON, default=list)
    sitemaps: Mapped[list[str]] = mapped_column(JSON, default=list)
    news_sitemaps: Mapped[list[str]] = mapped_column(JSON, default=list)
    allow_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    every_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    max_age_seconds: Mapped[int] = mapped_column(Integer, default=7 * 86400)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"Source(name={self.name!r})"


class CrawlRun(Base):
    """One crawl, with what it did."""

    __tablename__ = "crawl_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="running")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    not_modified: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    editions_added: Mapped[int] = mapped_column(Integer, default=0)
    start_urls: Mapped[list[str]] = mapped_column(JSON, default=list)

    def __repr__(self) -> str:
        return f"CrawlRun(id={self.id!r}, status={self.status!r})"


class FetchError(Base):
    """A URL that could not be fetched or ingested, with why."""

    __tablename__ = "fetch_errors"
    id: Mapped[int] = mapped_column(primary_key=True)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    url: Mapped[str] = mapped_column(URL, index=True)
    status: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    found_from: Mapped[str | None] = mapped_column(URL)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"FetchError(url={self.url!r}, reason={self.reason!r})"


Index("ix_alignment_pairs_status", AlignmentPair.status)
Index("ix_editions_site_id_lang", Edition.site_id, Edition.lang)
Index(
    "ix_editions_article_id_lang_first_seen", Edition.article_id, Edition.lang, Edition.first_seen
)
