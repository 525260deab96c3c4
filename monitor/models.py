"""SQLAlchemy 2 typed models of the archive: question sets, documents, versions, changes, outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Cursor(Base):
    """Where a source's feed was last read up to; advanced only with the data it covers."""

    __tablename__ = "cursors"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(60))
    next_url: Mapped[str | None] = mapped_column(Text)
    skiptoken: Mapped[int | None] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("source", "category"),)


class Blob(Base):
    """A raw upstream body, zlib-compressed and addressed by the sha256 of the uncompressed bytes."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Entity(Base):
    """The latest known state of one SyncFeed entity (any category), upserted by GUID."""

    __tablename__ = "entities"
    id: Mapped[int] = mapped_column(primary_key=True)
    guid: Mapped[str] = mapped_column(String(36), unique=True)
    category: Mapped[str] = mapped_column(String(60), index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    refs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state_hash: Mapped[str] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    enclosure: Mapped[str | None] = mapped_column(Text)
    updated: Mapped[str] = mapped_column(String(40))
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class EntityEvent(Base):
    """Append-only log of what the feed said about an entity: created, updated or deleted."""

    __tablename__ = "entity_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    event: Mapped[str] = mapped_column(String(20))
    updated: Mapped[str] = mapped_column(String(40))
    bijgewerkt: Mapped[str | None] = mapped_column(String(40))
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QuestionSet(Base):
    """A Zaak of soort "Schriftelijke vragen": the unit subscribers follow."""

    __tablename__ = "question_sets"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    guid: Mapped[str | None] = mapped_column(String(36), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    tabled_on: Mapped[dt.date | None] = mapped_column()
    askers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    addressee: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="tabled")
    deadline_on: Mapped[dt.date | None] = mapped_column()
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    documents: Mapped[list[Document]] = relationship(back_populates="question_set")


class Document(Base):
    """One parliamentary document (question, delay notice, answer, nader antwoord)."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    guid: Mapped[str | None] = mapped_column(String(36), unique=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    koop_id: Mapped[str | None] = mapped_column(String(60), index=True)
    soort: Mapped[str] = mapped_column(String(80), default="")
    role: Mapped[str] = mapped_column(String(20), default="other")
    title: Mapped[str] = mapped_column(Text, default="")
    dated_on: Mapped[dt.date | None] = mapped_column()
    question_set_id: Mapped[int | None] = mapped_column(ForeignKey("question_sets.id"), index=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    question_set: Mapped[QuestionSet | None] = relationship(back_populates="documents")


class Version(Base):
    """An append-only fetched rendition of a document; a new row only when the body changes."""

    __tablename__ = "versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    rendition: Mapped[str] = mapped_column(String(20))
    source_url: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    parse_status: Mapped[str] = mapped_column(String(20), default="pending")
    parse_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_versions_pending", "parse_status"),)


class ParsedItem(Base):
    """One numbered question or answer of a version, as the segmenter found it."""

    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    numbers: Mapped[str] = mapped_column(String(80))
    label: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)


class Change(Base):
    """A lifecycle event or a classified correction; the source of every alert."""

    __tablename__ = "changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    event: Mapped[str] = mapped_column(String(20))
    question_set_id: Mapped[int | None] = mapped_column(ForeignKey("question_sets.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    kinds: Mapped[list[Any]] = mapped_column(JSON, default=list)
    severity: Mapped[str] = mapped_column(String(10), default="none")
    summary: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    silent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Chat(Base):
    """A Telegram chat that talks to the bot, with its delivery preferences."""

    __tablename__ = "chats"
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    muted_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when Telegram refused the chat (blocked the bot, deleted account); cleared by /start.
    blocked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    digest_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Subscription(Base):
    """What a chat wants to hear about: a topic, a keyword query or one question set."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.chat_id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # "Mute this topic": no alerts are planned from this subscription until then.
    muted_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("chat_id", "kind", "value"),)


class OutboxMessage(Base):
    """An alert to deliver, written in the same transaction as its change; sent exactly once."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class JobRun(Base):
    """One run of a scheduled job, for health reporting."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class TopicMatchRow(Base):
    """Why a question set matched one version of a topic: written by topic replays, never
    alerted, so a changed topic can be re-run over the archive."""

    __tablename__ = "topic_matches"
    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(80))
    topic_version: Mapped[str] = mapped_column(String(16))
    question_set_id: Mapped[int] = mapped_column(ForeignKey("question_sets.id"), index=True)
    term: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(40))
    excerpt: Mapped[str] = mapped_column(Text, default="")
    matched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("topic", "topic_version", "question_set_id", "term"),)


# Full-text search objects made by migration h_web_search (FTS5 table and its shadow tables on
# SQLite, a GIN index on PostgreSQL); not models, so schema comparisons must skip them.
SEARCH_OBJECTS = ("items_search", "ix_items_search")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic `include_name` hook: compare everything except the full-text search objects."""
    return not (name or "").startswith(SEARCH_OBJECTS)


class Incident(Base):
    """A period a health subject (a source, the outbox) was unhealthy; operators hear both ends."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(60), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class KoopCheck(Base):
    """A KOOP publication that answered "not found": how often and when it was last asked, so
    long-missing publications are asked less and less often (never one announced anew)."""

    __tablename__ = "koop_checks"
    koop_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    misses: Mapped[int] = mapped_column(Integer, default=0)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
