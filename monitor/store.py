"""Every database read and write; returns records, never ORM objects.

Writes are idempotent: entity state hashes, body hashes and change keys make a repeated ingest
or process a no-op, so any job can be re-run after a crash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Subquery, Table, delete, func, insert, or_, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor import lifecycle, segment, topics
from monitor.health import JobSummary, OutboxSummary
from monitor.models import (
    Blob,
    Change,
    Chat,
    Cursor,
    Document,
    Entity,
    EntityEvent,
    Incident,
    JobRun,
    KoopCheck,
    OutboxMessage,
    ParsedItem,
    QuestionSet,
    Subscription,
    TopicMatchRow,
    Version,
)
from monitor.normalize import comparison_key
from monitor.notify import ChatSettings, QueuedMessage, SubscriptionRecord
from monitor.records import (
    ChangeKind,
    ChangeRecord,
    CrawlProblem,
    CrawlRecord,
    DocumentRole,
    EventKind,
    FeedEntity,
    FeedPage,
    FetchedBody,
    Item,
    ParsedDocument,
    ParseError,
    Rendition,
    Severity,
)

_BLOBS = cast(Table, Blob.__table__)
_ENTITIES = cast(Table, Entity.__table__)
_ENTITY_EVENTS = cast(Table, EntityEvent.__table__)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rowcount(result: Any) -> int:
    """Rows an UPDATE touched (SQLAlchemy types DML results loosely)."""
    return int(result.rowcount)


class IntegrityError(RuntimeError):
    """Raised by `Store.read_blob` when a stored body no longer matches its hash."""


@dataclass(slots=True)
class IngestResult:
    """What one ingest did, for logs and job runs."""

    entities: int = 0
    unchanged: int = 0
    tombstones: int = 0
    pages: int = 0
    versions: int = 0
    not_found: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _EntityRow:
    """The columns of an entity that resolving needs, without an ORM object per row."""

    id: int
    guid: str
    category: str
    fields: dict[str, Any]
    refs: dict[str, Any]
    deleted: bool
    changed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class KoopWanted:
    """What one KOOP crawl should ask: `ids` with their validators (none for a first request),
    and `waiting` ids in back-off, fetched only when an SRU search lists them as modified."""

    ids: dict[str, list[str | None]]
    waiting: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PendingVersion:
    id: int
    document_id: int
    document_number: str
    koop_id: str
    role: DocumentRole
    rendition: Rendition
    body: bytes


@dataclass(frozen=True, slots=True)
class VersionView:
    id: int
    document_number: str
    role: str
    rendition: str
    source_url: str
    fetched_at: str
    blob_sha256: str
    parse_status: str


Planner = Callable[
    [ChangeRecord, dict[str, str], list[SubscriptionRecord]], list[tuple[str, int, list[str]]]
]
"""Given a new change, the texts topics match on, and the subscriptions: (channel, chat, parts)."""


class Store:
    """The database behind Kamerwacht; one instance per process, sessions per call.

    `planner` decides who is alerted about a new change; its outbox rows are written in the same
    transaction as the change, so a crash can neither lose an alert nor leave a change without one.
    """

    def __init__(
        self, engine: Engine, planner: Planner | None = None, quiet_before: dt.date | None = None
    ) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.planner = planner
        # Changes about documents dated before this are stored silently (backfills, replays).
        self.quiet_before = quiet_before

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    # --- blobs ---------------------------------------------------------------------------

    def _put_blob(self, session: Session, data: bytes) -> str:
        digest = sha256(data)
        if session.get(Blob, digest) is None:
            session.add(Blob(sha256=digest, size=len(data), data=zlib.compress(data, 6)))
            session.flush()
        return digest

    def read_blob(self, digest: str) -> bytes:
        with self.session() as session:
            blob = session.get(Blob, digest)
            if blob is None:
                raise KeyError(digest)
            data = zlib.decompress(blob.data)
        if sha256(data) != digest:
            raise IntegrityError(f"blob {digest} does not match its hash")
        return data

    # --- cursors -------------------------------------------------------------------------

    def cursors(self, source: str) -> dict[str, str]:
        with self.session() as session:
            rows = session.scalars(select(Cursor).where(Cursor.source == source)).all()
            return {r.category: r.next_url for r in rows if r.next_url}

    def has_cursor(self, source: str) -> bool:
        return bool(self.cursors(source))

    # --- ingest --------------------------------------------------------------------------

    def ingest(self, records: Iterable[CrawlRecord], silent: bool = False) -> IngestResult:
        """Store crawl records. Feed entities are committed together with the cursor of their page;
        entities after the last complete page are not stored (the next crawl reads them again)."""
        result = IngestResult()
        # Categories are crawled concurrently, so their entries interleave in the file: each
        # page is collected per category and committed only with that category's cursor.
        pages: dict[str, list[FeedEntity]] = {}
        koop: dict[str, str] = {}
        for record in records:
            if isinstance(record, FeedEntity):
                pages.setdefault(record.category, []).append(record)
            elif isinstance(record, FeedPage):
                with self.session() as session:
                    self._store_page(session, pages.pop(record.category, []), result)
                    self._advance_cursor(session, record)
                result.pages += 1
            elif isinstance(record, FetchedBody):
                self._save_body(record, result)
                if record.source == "koop":
                    koop[record.key] = record.status
            elif isinstance(record, CrawlProblem):
                result.problems.append(f"{record.url}: {record.message}")
        self._note_koop_outcomes(koop)
        left = sum(len(page) for page in pages.values())
        if left:
            result.problems.append(
                f"{left} feed entries after the last complete page were not stored"
            )
        return result

    def _advance_cursor(self, session: Session, page: FeedPage) -> None:
        cursor = session.scalar(
            select(Cursor).where(Cursor.source == "syncfeed", Cursor.category == page.category)
        )
        if cursor is None:
            cursor = Cursor(source="syncfeed", category=page.category, pages=0, entries=0)
            session.add(cursor)
        # Without a next link the feed is exhausted: re-read this page next time.
        cursor.next_url = page.next_url or page.page_url
        cursor.skiptoken = page.next_skiptoken
        cursor.pages = (cursor.pages or 0) + 1
        cursor.entries = (cursor.entries or 0) + page.entries
        cursor.updated_at = utcnow()

    def _store_page(self, session: Session, page: list[FeedEntity], result: IngestResult) -> None:
        """Upsert one page of feed entities with a few set-based statements.

        An entity whose state (fields, references, deleted flag) is unchanged is a re-emission:
        it is counted and otherwise ignored, so data repairs upstream create nothing here.
        """
        if not page:
            return
        guids = list({e.guid for e in page})
        known: dict[str, tuple[int | None, str]] = {
            guid: (entity_id, state_hash)
            for entity_id, guid, state_hash in session.execute(
                select(Entity.id, Entity.guid, Entity.state_hash).where(Entity.guid.in_(guids))
            )
        }
        now = utcnow()
        # Core statements: the ORM's per-row bookkeeping costs more than the work on a backfill.
        connection = session.connection()
        blobs: dict[str, bytes] = {}
        created: dict[str, dict[str, Any]] = {}
        updated: dict[str, dict[str, Any]] = {}
        events: list[tuple[str, str, FeedEntity, str | None]] = []
        for record in page:
            state_hash = sha256(
                json.dumps(
                    {"f": record.fields, "r": record.refs, "d": record.deleted}, sort_keys=True
                ).encode()
            )
            current = known.get(record.guid)
            if current is not None and current[1] == state_hash:
                result.unchanged += 1
                continue
            values: dict[str, Any] = {
                "state_hash": state_hash,
                "deleted": record.deleted,
                "updated": record.updated,
                "changed_at": now,
                "resolved": False,
            }
            if record.deleted:
                result.tombstones += 1  # the last known fields are kept: a deletion is an event
            else:
                values |= {
                    "fields": dict(record.fields),
                    "refs": {k: list(v) for k, v in record.refs.items()},
                    "enclosure": record.enclosure,
                }
            if current is None or record.guid in created:
                base = created.get(record.guid) or {
                    "guid": record.guid, "category": record.category, "fields": {}, "refs": {},
                    "enclosure": None, "first_seen_at": now,
                }  # fmt: skip
                created[record.guid] = base | values
            else:
                updated[record.guid] = {**updated.get(record.guid, {}), **values}
            event = "deleted" if record.deleted else ("created" if current is None else "updated")
            known[record.guid] = (current[0] if current else None, state_hash)
            digest = None
            if record.raw:
                raw = record.raw.encode()
                digest = sha256(raw)
                blobs[digest] = raw
            events.append((record.guid, event, record, digest))
            result.entities += 1
        if blobs:
            present = set(session.scalars(select(Blob.sha256).where(Blob.sha256.in_(list(blobs)))))
            fresh = [
                {"sha256": d, "size": len(b), "data": zlib.compress(b, 6), "created_at": now}
                for d, b in blobs.items()
                if d not in present
            ]
            if fresh:
                connection.execute(insert(_BLOBS), fresh)
        ids = {guid: entity_id for guid, (entity_id, _) in known.items() if entity_id is not None}
        table = _ENTITIES
        if created:
            for entity_id, guid in connection.execute(
                insert(table).returning(table.c.id, table.c.guid), list(created.values())
            ):
                ids[guid] = entity_id
        if updated:
            session.execute(update(Entity), [{"id": ids[g], **v} for g, v in updated.items()])
        if events:
            connection.execute(
                insert(_ENTITY_EVENTS),
                [
                    {
                        "entity_id": ids[guid], "event": event, "updated": record.updated,
                        "bijgewerkt": record.bijgewerkt, "blob_sha256": digest, "recorded_at": now,
                    }
                    for guid, event, record, digest in events
                ],
            )  # fmt: skip

    def _save_body(self, record: FetchedBody, result: IngestResult) -> None:
        if record.status == "not_found":
            result.not_found += 1
            return
        if record.status != "ok":
            if record.status == "error":
                result.problems.append(f"{record.url}: {record.error}")
            return
        with self.session() as session:
            document = self._document_for_body(session, record)
            if document is None:
                result.problems.append(f"{record.key}: no known document for this body")
                return
            data = record.body_bytes()
            digest = self._put_blob(session, data)
            latest = session.scalar(
                select(Version)
                .where(Version.document_id == document.id, Version.rendition == record.rendition)
                .order_by(Version.id.desc())
                .limit(1)
            )
            if latest is not None and latest.blob_sha256 == digest:
                latest.etag = record.etag or latest.etag
                latest.last_modified = record.last_modified or latest.last_modified
                return
            session.add(
                Version(
                    document_id=document.id,
                    rendition=record.rendition.value,
                    source_url=record.url,
                    fetched_at=dt.datetime.fromisoformat(record.fetched_at),
                    blob_sha256=digest,
                    etag=record.etag,
                    last_modified=record.last_modified,
                    parse_status="pending",
                )
            )
            result.versions += 1

    def _document_for_body(self, session: Session, record: FetchedBody) -> Document | None:
        if record.document_number:
            found = session.scalar(
                select(Document).where(Document.number == record.document_number)
            )
            if found is not None:
                return found
        return session.scalar(
            select(Document).where(Document.koop_id == record.key).order_by(Document.id).limit(1)
        )

    # --- resolving entities into question sets and documents -------------------------------

    def resolve(self, silent: bool, batch: int = 2000) -> list[int]:
        """Turn unresolved feed entities into question sets and documents; returns new change ids.

        Categories go in dependency order (a Document needs its Zaak), in bounded batches so a
        backfill of hundreds of thousands of entities never loads them all at once.
        """
        new_changes: list[int] = []
        for category in ("Zaak", "ZaakActor", "Document", "DocumentVersie"):
            last_id = 0
            while True:
                with self.session() as session:
                    entities = [
                        _EntityRow(*row)
                        for row in session.execute(
                            select(
                                Entity.id, Entity.guid, Entity.category, Entity.fields,
                                Entity.refs, Entity.deleted, Entity.changed_at,
                            )
                            .where(
                                Entity.resolved.is_(False),
                                Entity.category == category,
                                Entity.id > last_id,
                            )
                            .order_by(Entity.id)
                            .limit(batch)
                        )
                    ]  # fmt: skip
                    if not entities:
                        break
                    done = [
                        e.id for e in entities if self._resolve_one(session, e, silent, new_changes)
                    ]
                    if done:
                        session.execute(
                            update(Entity).where(Entity.id.in_(done)).values(resolved=True)
                        )
                    last_id = entities[-1].id
        with self.session() as session:
            session.execute(
                update(Entity)
                .where(
                    Entity.resolved.is_(False),
                    Entity.category.not_in(["Zaak", "ZaakActor", "Document", "DocumentVersie"]),
                )
                .values(resolved=True)
            )
        return new_changes

    def _resolve_one(
        self, session: Session, entity: _EntityRow, silent: bool, changes: list[int]
    ) -> bool:
        f = entity.fields
        if entity.category == "Zaak":
            if entity.deleted or f.get("soort") != lifecycle.QUESTION_SOORT:
                return True
            qs = session.scalar(select(QuestionSet).where(QuestionSet.number == f.get("nummer")))
            if qs is None:
                qs = QuestionSet(number=f.get("nummer", ""), guid=entity.guid)
                session.add(qs)
            qs.guid = entity.guid
            qs.title = f.get("onderwerp") or f.get("titel") or qs.title
            tabled = lifecycle.parse_date(f.get("gestartOp"))
            qs.tabled_on = tabled
            if tabled and qs.deadline_on is None:
                qs.deadline_on = lifecycle.deadline(tabled, delayed=False)
            session.flush()
            return True
        if entity.category == "ZaakActor":
            qs = self._question_set_by_guid(session, (entity.refs.get("zaak") or [""])[0])
            if qs is None:
                return self._give_up_later(entity)
            name = f.get("actorNaam", "")
            party = f.get("actorFractie", "")
            label = f"{name} ({party})" if party else name
            if f.get("relatie") in ("Indiener", "Medeindiener") and label not in (qs.askers or []):
                qs.askers = [*(qs.askers or []), label]
            elif f.get("relatie") == "Gericht aan":
                qs.addressee = f.get("functie") or name
            return True
        if entity.category == "Document":
            return self._resolve_document(session, entity, silent, changes)
        if entity.category == "DocumentVersie":
            doc_guid = (entity.refs.get("document") or [""])[0]
            document = session.scalar(select(Document).where(Document.guid == doc_guid))
            if document is None:
                return self._give_up_later(entity)
            external = f.get("externeidentifier", "")
            if external.startswith(("ah-tk-", "kv-tk-")):
                document.koop_id = external
                self._koop_announced(session, external)
            return True
        return True

    def _give_up_later(self, entity: _EntityRow) -> bool:
        # The referenced entity may arrive in a later page or category; stop retrying after a day.
        return bool(utcnow() - as_utc(entity.changed_at) > dt.timedelta(days=1))

    def _question_set_by_guid(self, session: Session, guid: str) -> QuestionSet | None:
        return session.scalar(select(QuestionSet).where(QuestionSet.guid == guid)) if guid else None

    def _resolve_document(
        self, session: Session, entity: _EntityRow, silent: bool, changes: list[int]
    ) -> bool:
        f = entity.fields
        role = lifecycle.role_of(f.get("soort", ""), f.get("onderwerp", ""))
        if role is DocumentRole.OTHER and not entity.deleted:
            return True  # most of the feed: not part of the written-questions lifecycle
        existing = session.scalar(select(Document).where(Document.guid == entity.guid))
        if entity.deleted:
            if existing is not None:
                existing.deleted = True  # recorded, never removed; no alert
            return True
        question_set = None
        for zaak in entity.refs.get("zaak", []):
            question_set = self._question_set_by_guid(session, zaak)
            if question_set is not None:
                break
        if question_set is None:
            return self._give_up_later(entity)
        document = existing or Document(guid=entity.guid)
        if existing is None:
            session.add(document)
        document.number = f.get("documentNummer") or document.number
        document.soort = f.get("soort", "")
        document.role = role.value
        document.title = f.get("onderwerp") or f.get("titel") or ""
        document.dated_on = lifecycle.parse_date(f.get("datum"))
        document.question_set_id = question_set.id
        document.deleted = False
        document.koop_id = document.koop_id or lifecycle.koop_id(
            f.get("vergaderjaar", ""), f.get("aanhangselnummer", "")
        )
        if existing is not None:
            self._koop_announced(session, document.koop_id)
        session.flush()
        if existing is None:
            event = {
                DocumentRole.QUESTIONS: EventKind.TABLED,
                DocumentRole.DELAY_NOTICE: EventKind.DELAYED,
                DocumentRole.ANSWER: EventKind.ANSWERED,
                DocumentRole.NADER_ANSWER: EventKind.ANSWERED,
                DocumentRole.WITHDRAWAL: EventKind.WITHDRAWN,
            }[role]
            self._apply_lifecycle(question_set, role, document)
            summary = {
                EventKind.TABLED: f"Tabled: {question_set.title}",
                EventKind.DELAYED: "The minister asked for more time to answer.",
                EventKind.ANSWERED: (
                    "A further answer (nader antwoord) was published."
                    if role is DocumentRole.NADER_ANSWER
                    else "The answer was published."
                ),
                EventKind.WITHDRAWN: "The questions were withdrawn.",
            }[event]
            change_id = self._add_change(
                session,
                key=f"{event.value}:{document.number or entity.guid}",
                event=event,
                question_set=question_set,
                document=document,
                summary=summary,
                detail={"document": document.number, "soort": document.soort},
                silent=silent,
            )
            if change_id is not None:
                changes.append(change_id)
        return True

    def _apply_lifecycle(self, qs: QuestionSet, role: DocumentRole, document: Document) -> None:
        if role is DocumentRole.DELAY_NOTICE and qs.status == "tabled":
            qs.status = "delayed"
            if qs.tabled_on:
                qs.deadline_on = lifecycle.deadline(qs.tabled_on, delayed=True)
        elif role in (DocumentRole.ANSWER, DocumentRole.NADER_ANSWER):
            qs.status = "answered"
        elif role is DocumentRole.WITHDRAWAL:
            qs.status = "withdrawn"
            qs.withdrawn = True

    def _add_change(
        self,
        session: Session,
        *,
        key: str,
        event: EventKind,
        question_set: QuestionSet | None,
        document: Document | None,
        summary: str,
        detail: dict[str, Any],
        silent: bool,
        kinds: tuple[ChangeKind, ...] = (),
        severity: Severity = Severity.NONE,
        version_id: int | None = None,
        base_version_id: int | None = None,
    ) -> int | None:
        if session.scalar(select(Change.id).where(Change.key == key)) is not None:
            return None
        if document is not None and document.dated_on and self.quiet_before:
            silent = silent or document.dated_on < self.quiet_before
        change = Change(
            key=key,
            event=event.value,
            question_set_id=question_set.id if question_set else None,
            document_id=document.id if document else None,
            version_id=version_id,
            base_version_id=base_version_id,
            kinds=[k.value for k in kinds],
            severity=severity.value,
            summary=summary,
            detail=detail,
            silent=silent,
        )
        session.add(change)
        session.flush()
        if not silent and self.planner is not None:
            record = self._change_record(change, question_set, document)
            fields = self._topic_fields(session, question_set, record)
            subscriptions = self._subscriptions(session)
            self._enqueue(session, change.id, self.planner(record, fields, subscriptions))
        return change.id

    # --- versions and processing ----------------------------------------------------------

    def pending_versions(self, limit: int = 100) -> list[PendingVersion]:
        with self.session() as session:
            rows = session.execute(
                select(Version, Document)
                .join(Document, Document.id == Version.document_id)
                .where(Version.parse_status == "pending")
                # Older documents first, so an answer is parsed before the nader antwoord amending it.
                .order_by(Document.dated_on.is_(None), Document.dated_on, Version.id)
                .limit(limit)
            ).all()
            out = []
            for version, document in rows:
                blob = session.get(Blob, version.blob_sha256)
                assert blob is not None
                out.append(
                    PendingVersion(
                        version.id, document.id, document.number or "", document.koop_id or "",
                        DocumentRole(document.role), Rendition(version.rendition),
                        zlib.decompress(blob.data),
                    )
                )  # fmt: skip
            return out

    def mark_unparseable(self, version_id: int, error: str) -> None:
        with self.session() as session:
            version = session.get(Version, version_id)
            assert version is not None
            version.parse_status = "error"
            version.parse_error = error[:2000]
            version.processed_at = utcnow()

    def comparison_base(self, pending: PendingVersion) -> tuple[int, bytes, Rendition, bool] | None:
        """The version a new version is compared with, and whether unanswered numbers carry over.

        A later version of the same document is compared with its previous parsed version. The
        first version of a nader antwoord is compared with the latest answer of its question set.
        """
        with self.session() as session:
            previous = session.scalar(
                select(Version)
                .where(
                    Version.document_id == pending.document_id,
                    Version.id < pending.id,
                    Version.parse_status == "ok",
                )
                .order_by(Version.id.desc())
                .limit(1)
            )
            carry = False
            if previous is None and pending.role is DocumentRole.NADER_ANSWER:
                document = session.get(Document, pending.document_id)
                assert document is not None
                query = (
                    select(Version)
                    .join(Document, Document.id == Version.document_id)
                    .where(
                        Document.question_set_id == document.question_set_id,
                        Document.id != document.id,
                        Document.role.in_(["answer", "nader_answer"]),
                        Version.parse_status == "ok",
                    )
                    .order_by(Document.dated_on.desc(), Version.id.desc())
                    .limit(1)
                )
                if document.dated_on is not None:
                    query = query.where(Document.dated_on <= document.dated_on)
                previous = session.scalar(query)
                carry = True
            if previous is None:
                return None
            blob = session.get(Blob, previous.blob_sha256)
            assert blob is not None
            return previous.id, zlib.decompress(blob.data), Rendition(previous.rendition), carry

    def later_amendments(self, pending: PendingVersion) -> list[tuple[int, bytes, Rendition]]:
        """Parsed nader antwoorden dated after this answer that have not been compared with any
        earlier answer yet (their text arrived before this answer's text did)."""
        if pending.role not in (DocumentRole.ANSWER, DocumentRole.NADER_ANSWER):
            return []
        with self.session() as session:
            document = session.get(Document, pending.document_id)
            assert document is not None
            if document.dated_on is None:
                return []
            rows = session.scalars(
                select(Version)
                .join(Document, Document.id == Version.document_id)
                .where(
                    Document.question_set_id == document.question_set_id,
                    Document.id != document.id,
                    Document.role == DocumentRole.NADER_ANSWER.value,
                    Document.dated_on > document.dated_on,
                    Version.parse_status == "ok",
                )
                .order_by(Version.id)
            ).all()
            out = []
            for version in rows:
                compared = session.scalar(
                    select(Change.id).where(
                        Change.event == EventKind.CORRECTED.value, Change.version_id == version.id
                    )
                )
                if compared is None:
                    blob = session.get(Blob, version.blob_sha256)
                    assert blob is not None
                    out.append(
                        (version.id, zlib.decompress(blob.data), Rendition(version.rendition))
                    )
            return out

    def save_parsed(
        self,
        pending: PendingVersion,
        parsed: ParsedDocument,
        content_hash: str,
        corrections: list[dict[str, Any]],
        silent: bool,
    ) -> list[int]:
        """Store a parsed version's items and, in the same transaction, its correction changes.

        Each correction names its `base_version_id` and `version_id` (the newer text); usually
        the newer text is this version, but it can be a nader antwoord whose base arrived late.
        """
        with self.session() as session:
            version = session.get(Version, pending.id)
            assert version is not None
            if version.parse_status != "pending":
                return []  # processed by an earlier run that finished after we read it
            version.parse_status = "ok"
            version.parse_error = None
            version.content_hash = content_hash
            version.processed_at = utcnow()
            items: list[Item] = [*parsed.questions, *parsed.answers]
            for position, item in enumerate(items):
                session.add(
                    ParsedItem(
                        version_id=version.id, role=item.role, numbers=",".join(item.numbers),
                        label=item.label, text=item.text, position=position,
                    )
                )  # fmt: skip
            created: list[int] = []
            for correction in corrections:
                newer = session.get(Version, correction["version_id"])
                assert newer is not None
                document = session.get(Document, newer.document_id)
                assert document is not None
                question_set = (
                    session.get(QuestionSet, document.question_set_id)
                    if document.question_set_id
                    else None
                )
                severity = Severity(correction["severity"])
                change_id = self._add_change(
                    session,
                    key=f"corrected:{correction['base_version_id']}:{newer.id}",
                    event=EventKind.CORRECTED,
                    question_set=question_set,
                    document=document,
                    summary=correction["summary"],
                    detail=correction["detail"],
                    silent=silent or severity is Severity.NONE,
                    kinds=tuple(ChangeKind(k) for k in correction["kinds"]),
                    severity=severity,
                    version_id=newer.id,
                    base_version_id=correction["base_version_id"],
                )
                if change_id is not None:
                    created.append(change_id)
            return created

    def koop_ids_to_fetch(
        self,
        recheck_days: int,
        first_interval: dt.timedelta = dt.timedelta(minutes=5),
        max_interval: dt.timedelta = dt.timedelta(days=2),
        limit: int = 100,
    ) -> KoopWanted:
        """What the KOOP crawl should ask, in three sets (one query each, not one per document):

        - never asked: every id without a KOOP version and without a recorded miss, at once; a
          publication the feed announces anew (new document, new DocumentVersie) is one of these;
        - stored: ids with a KOOP version dated within `recheck_days`, with their validators;
        - missing: ids that answered not-found before. Each is asked again on the next crawl (a
          publication is often just a little late), then after `first_interval`, then twice as
          long after every further miss, up to `max_interval`; at most `limit` of the due ones
          per crawl (the longest waiting first). The others, when dated within `recheck_days`,
          are `waiting`: fetched as soon as an SRU search lists them.
        """
        now = utcnow()
        since = (now - dt.timedelta(days=recheck_days)).date()
        with self.session() as session:
            latest = self._latest_versions(Rendition.KOOP_XML)
            rows = session.execute(
                select(
                    Document.koop_id, Document.dated_on, latest.c.version_id, Version.etag,
                    Version.last_modified,
                )
                .outerjoin(latest, latest.c.document_id == Document.id)
                .outerjoin(Version, Version.id == latest.c.version_id)
                .where(Document.koop_id.is_not(None), Document.deleted.is_(False))
            ).all()  # fmt: skip
            checks = {
                koop_id: (misses, as_utc(checked_at))
                for koop_id, misses, checked_at in session.execute(
                    select(KoopCheck.koop_id, KoopCheck.misses, KoopCheck.checked_at)
                )
            }
        stored: dict[str, tuple[int, list[str | None]]] = {}
        recent: set[str] = set()
        for koop_id, dated_on, version_id, etag, last_modified in rows:
            if dated_on is None or dated_on >= since:
                recent.add(koop_id)
            if version_id is not None and version_id > stored.get(koop_id, (0, []))[0]:
                stored[koop_id] = (version_id, [etag, last_modified])
        out: dict[str, list[str | None]] = {}
        due: list[tuple[dt.datetime, str]] = []
        waiting: list[str] = []
        for koop_id in sorted({row[0] for row in rows}):
            if koop_id in stored:
                if koop_id in recent:
                    out[koop_id] = stored[koop_id][1]
                continue
            check = checks.get(koop_id)
            if check is None:
                out[koop_id] = [None, None]
                continue
            misses, checked_at = check
            wait = min(max_interval, first_interval * 2 ** min(max(misses - 2, 0), 30))
            if misses <= 1 or now - checked_at >= wait * 0.9:  # polls drift: a little slack
                due.append((checked_at, koop_id))
            elif koop_id in recent:
                waiting.append(koop_id)
        due.sort()
        for _, koop_id in due[:limit]:
            out[koop_id] = [None, None]
        waiting += [k for _, k in due[limit:] if k in recent]
        return KoopWanted(out, tuple(sorted(waiting)))

    def _note_koop_outcomes(self, outcomes: dict[str, str]) -> None:
        """Count a not-found answer as a miss; a body or a 304 ends the back-off."""
        missed = [k for k, status in outcomes.items() if status == "not_found"]
        found = [k for k, status in outcomes.items() if status in ("ok", "not_modified")]
        if not missed and not found:
            return
        now = utcnow()
        with self.session() as session:
            if found:
                session.execute(delete(KoopCheck).where(KoopCheck.koop_id.in_(found)))
            if missed:
                known = dict(
                    session.execute(
                        select(KoopCheck.koop_id, KoopCheck.misses).where(
                            KoopCheck.koop_id.in_(missed)
                        )
                    ).all()
                )
                if known:
                    session.execute(
                        update(KoopCheck),
                        [
                            {"koop_id": k, "misses": known[k] + 1, "checked_at": now}
                            for k in missed
                            if k in known
                        ],
                    )
                fresh = [k for k in missed if k not in known]
                if fresh:
                    session.execute(
                        insert(KoopCheck),
                        [{"koop_id": k, "misses": 1, "checked_at": now} for k in fresh],
                    )

    @staticmethod
    def _koop_announced(session: Session, koop_id: str | None) -> None:
        # The feed says something about this publication: ask KOOP at once, whatever it
        # answered before (the back-off must never delay an answer or a correction).
        if koop_id:
            session.execute(delete(KoopCheck).where(KoopCheck.koop_id == koop_id))

    # --- changes, subscriptions and the outbox ---------------------------------------------

    def change_records(
        self, ids: Iterable[int] | None = None, limit: int = 200, include_silent: bool = True
    ) -> list[ChangeRecord]:
        with self.session() as session:
            query = (
                select(Change, QuestionSet, Document)
                .outerjoin(QuestionSet, QuestionSet.id == Change.question_set_id)
                .outerjoin(Document, Document.id == Change.document_id)
                .order_by(Change.id.desc())
            )
            if ids is not None:
                query = query.where(Change.id.in_(list(ids)))
            if not include_silent:
                query = query.where(Change.silent.is_(False))
            rows = session.execute(query.limit(limit)).all()
            return [self._change_record(c, q, d) for c, q, d in rows]

    @staticmethod
    def _change_record(c: Change, q: QuestionSet | None, d: Document | None) -> ChangeRecord:
        return ChangeRecord(
            id=c.id,
            key=c.key,
            event=EventKind(c.event),
            question_set=q.number if q else "",
            question_set_title=q.title if q else "",
            document_number=(d.number or d.koop_id or "") if d else "",
            kinds=tuple(ChangeKind(k) for k in c.kinds or []),
            severity=Severity(c.severity),
            summary=c.summary,
            detail=dict(c.detail or {}),
            created_at=as_utc(c.created_at).isoformat(),
            silent=c.silent,
        )

    def _topic_fields(
        self, session: Session, qs: QuestionSet | None, change: ChangeRecord
    ) -> dict[str, str]:
        """The texts topic matching looks at for a change's question set."""
        if qs is None:
            return {"change": change.summary}
        fields = {"title": qs.title}
        # Topics may be narrowed to ministries or members (h-lifecycle).
        fields["addressee"] = qs.addressee
        fields["askers"] = ", ".join(qs.askers or [])
        documents = session.scalars(select(Document).where(Document.question_set_id == qs.id)).all()
        fields["documents"] = " ".join(d.title for d in documents)
        texts = session.scalars(
            select(ParsedItem.text)
            .join(Version, Version.id == ParsedItem.version_id)
            .join(Document, Document.id == Version.document_id)
            .where(Document.question_set_id == qs.id)
            .limit(200)
        ).all()
        fields["text"] = " ".join(texts)
        return fields

    def subscriptions(self) -> list[SubscriptionRecord]:
        with self.session() as session:
            return self._subscriptions(session)

    @staticmethod
    def _subscriptions(session: Session) -> list[SubscriptionRecord]:
        rows = session.execute(
            select(Subscription)
            .join(Chat, Chat.chat_id == Subscription.chat_id)
            .where(Chat.active.is_(True))
            .where(or_(Subscription.muted_until.is_(None), Subscription.muted_until <= utcnow()))
        ).scalars()
        return [SubscriptionRecord(s.chat_id, s.kind, s.value) for s in rows]

    def subscribe(self, chat_id: int, kind: str, value: str) -> bool:
        with self.session() as session:
            if session.get(Chat, chat_id) is None:
                session.add(Chat(chat_id=chat_id, active=True))
                session.flush()
            exists = session.scalar(
                select(Subscription.id).where(
                    Subscription.chat_id == chat_id,
                    Subscription.kind == kind,
                    Subscription.value == value,
                )
            )
            if exists is not None:
                return False
            session.add(Subscription(chat_id=chat_id, kind=kind, value=value))
            return True

    @staticmethod
    def _enqueue(
        session: Session, change_id: int, messages: list[tuple[str, int, list[str]]]
    ) -> None:
        """Outbox rows for one change, one per (channel, chat, part); keyed so never doubled."""
        for channel, chat_id, parts in messages:
            for index, text in enumerate(parts):
                key = f"{change_id}:{channel}:{chat_id}:{index}"
                if session.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
                ):
                    continue
                session.add(
                    OutboxMessage(
                        change_id=change_id, channel=channel, chat_id=chat_id,
                        idempotency_key=key, text=text, status="pending",
                    )
                )  # fmt: skip

    def mark_sent(self, message_id: int) -> None:
        with self.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(status="sent", sent_at=utcnow(), attempts=OutboxMessage.attempts + 1)
            )

    def mark_failed(self, message_id: int, error: str, retry_in: float | None) -> None:
        """Record a failed attempt; `retry_in=None` gives up on the message for good."""
        with self.session() as session:
            values: dict[str, Any] = {
                "attempts": OutboxMessage.attempts + 1,
                "last_error": error[:500],
            }
            if retry_in is None:
                values["status"] = "dead"
            else:
                values["next_attempt_at"] = utcnow() + dt.timedelta(seconds=retry_in)
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values)
            )

    def outbox_counts(self) -> dict[str, int]:
        with self.session() as session:
            rows = session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
            return {str(status): int(count) for status, count in rows}

    # --- job runs ------------------------------------------------------------------------

    def start_run(self, job: str) -> int:
        with self.session() as session:
            run = JobRun(job=job, status="running", counts={})
            session.add(run)
            session.flush()
            return run.id

    def finish_run(
        self, run_id: int, status: str, counts: dict[str, Any], error: str | None = None
    ) -> None:
        with self.session() as session:
            run = session.get(JobRun, run_id)
            assert run is not None
            run.status = status
            run.counts = counts
            run.error = error[:2000] if error else None
            run.finished_at = utcnow()

    # --- reading for the web and the CLI ------------------------------------------------------

    def versions_of(self, question_set: str) -> list[VersionView]:
        with self.session() as session:
            rows = session.execute(
                select(Version, Document)
                .join(Document, Document.id == Version.document_id)
                .join(QuestionSet, QuestionSet.id == Document.question_set_id)
                .where(QuestionSet.number == question_set)
                .order_by(Version.id)
            ).all()
            return [
                VersionView(
                    v.id, d.number or d.koop_id or "", d.role, v.rendition, v.source_url,
                    as_utc(v.fetched_at).isoformat(), v.blob_sha256, v.parse_status,
                )
                for v, d in rows
            ]  # fmt: skip

    def version_body(self, version_id: int) -> tuple[bytes, Rendition, str]:
        """The raw body (verified against its hash), rendition and document number of a version."""
        with self.session() as session:
            row = session.execute(
                select(Version, Document)
                .join(Document, Document.id == Version.document_id)
                .where(Version.id == version_id)
            ).first()
            if row is None:
                raise KeyError(version_id)
            version, document = row
            digest, rendition = version.blob_sha256, Rendition(version.rendition)
            number = document.number or document.koop_id or ""
        return self.read_blob(digest), rendition, number

    def question_set(self, number: str) -> dict[str, Any] | None:
        with self.session() as session:
            qs = session.scalar(select(QuestionSet).where(QuestionSet.number == number))
            if qs is None:
                return None
            documents = session.scalars(
                select(Document).where(Document.question_set_id == qs.id).order_by(Document.id)
            ).all()
            return {
                "number": qs.number,
                "title": qs.title,
                "status": qs.status,
                "askers": list(qs.askers or []),
                "addressee": qs.addressee,
                "tabled_on": qs.tabled_on.isoformat() if qs.tabled_on else "",
                "deadline_on": qs.deadline_on.isoformat() if qs.deadline_on else "",
                "documents": [
                    {
                        "number": d.number or "",
                        "koop_id": d.koop_id or "",
                        "role": d.role,
                        "soort": d.soort,
                        "title": d.title,
                        "dated_on": d.dated_on.isoformat() if d.dated_on else "",
                        "deleted": d.deleted,
                    }
                    for d in documents
                ],
            }

    def counts(self) -> dict[str, int]:
        with self.session() as session:
            return {
                name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in (
                    ("question_sets", QuestionSet), ("documents", Document), ("versions", Version),
                    ("changes", Change), ("entities", Entity), ("outbox", OutboxMessage),
                )
            }  # fmt: skip

    # --- integrity (verify) ------------------------------------------------------------

    def verify(self) -> dict[str, Any]:
        """Check the whole archive: every blob against its hash, every reference to a blob, and
        the database's own integrity check. Returns counts and a list of problems."""
        problems: list[str] = []
        checked = 0
        last = ""
        while True:
            with self.session() as session:
                rows = session.execute(
                    select(Blob.sha256, Blob.data, Blob.size)
                    .where(Blob.sha256 > last)
                    .order_by(Blob.sha256)
                    .limit(500)
                ).all()
            if not rows:
                break
            for digest, data, size in rows:
                checked += 1
                try:
                    raw = zlib.decompress(data)
                except zlib.error:
                    problems.append(f"blob {digest}: cannot be decompressed")
                    continue
                if sha256(raw) != digest or len(raw) != size:
                    problems.append(f"blob {digest}: content does not match its hash")
            last = rows[-1][0]
        with self.session() as session:
            dangling = session.scalars(
                select(Version.id).where(Version.blob_sha256.not_in(select(Blob.sha256)))
            ).all()
            problems += [f"version {v}: its body is missing" for v in dangling]
            if session.bind is not None and session.get_bind().dialect.name == "sqlite":
                result = session.execute(sql_text("PRAGMA integrity_check")).scalar()
                if result != "ok":
                    problems.append(f"sqlite integrity_check: {result}")
                violations = session.execute(sql_text("PRAGMA foreign_key_check")).all()
                problems += [f"foreign key violation: {tuple(v)}" for v in violations[:20]]
        return {"blobs": checked, "problems": problems}

    # --- lifecycle queries (h-lifecycle) ----------------------------------------------------

    def question_timeline(self, number: str) -> lifecycle.Timeline | None:
        """A question set with its documents, their versions, citation links and events."""
        with self.session() as session:
            qs = session.scalar(select(QuestionSet).where(QuestionSet.number == number))
            if qs is None:
                return None
            documents = session.scalars(
                select(Document)
                .where(Document.question_set_id == qs.id)
                .order_by(Document.dated_on, Document.id)
            ).all()
            own_koop = {d.koop_id for d in documents if d.koop_id}
            out_documents = [self._timeline_document(session, d) for d in documents]
            changes = session.execute(
                select(Change, Document)
                .outerjoin(Document, Document.id == Change.document_id)
                .where(Change.question_set_id == qs.id)
                .order_by(Change.id)
            ).all()
            events = tuple(
                lifecycle.TimelineEvent(
                    c.id, c.event, as_utc(c.created_at).isoformat(),
                    (d.number or d.koop_id or "") if d else "", c.summary, c.severity,
                    tuple(c.kinds or []), c.silent,
                )
                for c, d in changes
            )  # fmt: skip
            return lifecycle.Timeline(
                number=qs.number,
                title=qs.title,
                status=qs.status,
                askers=tuple(qs.askers or []),
                addressee=qs.addressee,
                tabled_on=qs.tabled_on.isoformat() if qs.tabled_on else "",
                deadline_on=qs.deadline_on.isoformat() if qs.deadline_on else "",
                documents=tuple(out_documents),
                events=events,
                cited_by=tuple(self._cited_by(session, qs.id, own_koop)),
            )

    def _timeline_document(self, session: Session, d: Document) -> lifecycle.TimelineDocument:
        versions = session.scalars(
            select(Version).where(Version.document_id == d.id).order_by(Version.id)
        ).all()
        out: list[lifecycle.TimelineVersion] = []
        previous_text: tuple[tuple[str, str], ...] | None = None
        for v in versions:
            new_text = False
            if v.parse_status == "ok":
                items = session.execute(
                    select(ParsedItem.numbers, ParsedItem.text)
                    .where(ParsedItem.version_id == v.id)
                    .order_by(ParsedItem.position)
                ).all()
                text = tuple((str(n), comparison_key(str(t))) for n, t in items)
                new_text = previous_text is not None and text != previous_text
                previous_text = text
            out.append(
                lifecycle.TimelineVersion(
                    v.id, v.rendition, as_utc(v.fetched_at).isoformat(), v.blob_sha256,
                    v.parse_status, v.parse_error or "", new_text,
                )
            )  # fmt: skip
        links: list[lifecycle.TimelineLink] = []
        alignment: segment.Alignment | None = None
        latest = next((v for v in reversed(versions) if v.parse_status == "ok"), None)
        if latest is not None:
            blob = session.get(Blob, latest.blob_sha256)
            assert blob is not None
            try:
                parsed = segment.parse(
                    zlib.decompress(blob.data), Rendition(latest.rendition), d.koop_id or ""
                )
            except ParseError:
                parsed = None
            if parsed is not None:
                for link in lifecycle.links_of(parsed, DocumentRole(d.role), d.koop_id or ""):
                    links.append(self._resolve_link(session, link))
                alignment = segment.align(parsed)
        return lifecycle.TimelineDocument(
            number=d.number or "",
            koop_id=d.koop_id or "",
            role=d.role,
            soort=d.soort,
            title=d.title,
            dated_on=d.dated_on.isoformat() if d.dated_on else "",
            deleted=d.deleted,
            versions=tuple(out),
            links=tuple(links),
            answered=tuple(p.number for p in alignment.pairs if p.answer) if alignment else (),
            unanswered=alignment.unanswered if alignment else (),
            orphans=alignment.orphans if alignment else (),
            unmatched=len(alignment.unmatched) if alignment else 0,
        )

    @staticmethod
    def _resolve_link(session: Session, link: lifecycle.Link) -> lifecycle.TimelineLink:
        row = session.execute(
            select(Document, QuestionSet)
            .outerjoin(QuestionSet, QuestionSet.id == Document.question_set_id)
            .where(Document.koop_id == link.koop_id)
            .order_by(Document.id)
            .limit(1)
        ).first()
        if row is None:
            return lifecycle.TimelineLink(link.kind, link.koop_id)
        target, qs = row
        kind = link.kind
        if kind == "amends" and target.role not in ("answer", "nader_answer"):
            kind = "see_also"  # a nader antwoord also cites the delay notice; it amends the answer
        return lifecycle.TimelineLink(
            kind, link.koop_id, target.number or "", qs.number if qs else "", target.role
        )

    @staticmethod
    def _cited_by(
        session: Session, question_set_id: int, koop_ids: set[str]
    ) -> list[lifecycle.TimelineLink]:
        """Documents of other question sets whose questions or answers cite this set's
        publications (follow-up questions citing an earlier answer)."""
        found: dict[tuple[str, str], lifecycle.TimelineLink] = {}
        for koop in sorted(koop_ids):
            nr = koop.rsplit("-", 1)[-1]
            rows = session.execute(
                select(ParsedItem.text, Document, QuestionSet)
                .join(Version, Version.id == ParsedItem.version_id)
                .join(Document, Document.id == Version.document_id)
                .join(QuestionSet, QuestionSet.id == Document.question_set_id)
                .where(
                    QuestionSet.id != question_set_id,
                    ParsedItem.text.like("%Aanhangsel%"),
                    ParsedItem.text.like(f"%{nr}%"),
                )
            ).all()
            for text, document, qs in rows:
                if koop in segment.cited_publications(text):
                    key = (document.number or document.koop_id or "", koop)
                    found.setdefault(
                        key,
                        lifecycle.TimelineLink("cited_by", koop, key[0], qs.number, document.role),
                    )
        return list(found.values())

    def deadline_states(self, today: dt.date) -> list[lifecycle.DeadlineState]:
        """Every question set still awaiting its answer, most overdue first."""
        with self.session() as session:
            rows = session.scalars(
                select(QuestionSet).where(QuestionSet.status.in_(lifecycle.OPEN_STATUSES))
            ).all()
            states = [
                lifecycle.deadline_state(
                    q.number, q.title, q.status, q.tabled_on, q.deadline_on, today
                )
                for q in rows
            ]
        found = [s for s in states if s is not None]
        return sorted(found, key=lambda s: (-s.days_late, s.deadline_on or today, s.number))

    def record_overdue(self, today: dt.date, silent: bool = False) -> list[int]:
        """An OVERDUE change for each question set past its deadline, once per deadline, written
        with its outbox rows like any other change. A deadline before `quiet_before` (a
        backfill) is recorded silently."""
        new: list[int] = []
        for state in self.deadline_states(today):
            if not state.overdue or state.deadline_on is None:
                continue
            with self.session() as session:
                qs = session.scalar(select(QuestionSet).where(QuestionSet.number == state.number))
                assert qs is not None
                quiet = silent or bool(self.quiet_before and state.deadline_on < self.quiet_before)
                extended = " (already extended after a delay notice)" if state.delayed else ""
                change_id = self._add_change(
                    session,
                    key=f"overdue:{state.number}:{state.deadline_on.isoformat()}",
                    event=EventKind.OVERDUE,
                    question_set=qs,
                    document=None,
                    summary=(
                        f"No answer yet: the deadline was {state.deadline_on.isoformat()}"
                        f"{extended}."
                    ),
                    detail={
                        "deadline_on": state.deadline_on.isoformat(),
                        "status": state.status,
                        "days_late": state.days_late,
                    },
                    silent=quiet,
                )
            if change_id is not None:
                new.append(change_id)
        return new

    # --- topic replays (h-lifecycle) ------------------------------------------------------

    def topic_corpus(self) -> list[tuple[str, str, dict[str, str]]]:
        """Every question set as `(number, title, fields)` for topic matching: its title, its
        documents' titles, the items of each document's latest parsed version, addressee and
        askers."""
        with self.session() as session:
            sets = session.scalars(select(QuestionSet).order_by(QuestionSet.number)).all()
            out = []
            for qs in sets:
                documents = session.scalars(
                    select(Document).where(Document.question_set_id == qs.id)
                ).all()
                texts: list[str] = []
                for document in documents:
                    latest = session.scalar(
                        select(Version.id)
                        .where(Version.document_id == document.id, Version.parse_status == "ok")
                        .order_by(Version.id.desc())
                        .limit(1)
                    )
                    if latest is not None:
                        texts.extend(
                            session.scalars(
                                select(ParsedItem.text)
                                .where(ParsedItem.version_id == latest)
                                .order_by(ParsedItem.position)
                            ).all()
                        )
                fields = {
                    "title": qs.title,
                    "documents": " ".join(d.title for d in documents),
                    "text": "\n".join(texts),
                    "addressee": qs.addressee,
                    "askers": ", ".join(qs.askers or []),
                }
                out.append((qs.number, qs.title, fields))
            return out

    def save_topic_matches(self, matches: Iterable[topics.QuestionSetMatch]) -> int:
        """Store replayed matches with their reasons; writes no change and no outbox row."""
        added = 0
        with self.session() as session:
            ids = {
                str(number): int(qs_id)
                for number, qs_id in session.execute(select(QuestionSet.number, QuestionSet.id))
            }
            for found in matches:
                for reason in found.reasons:
                    exists = session.scalar(
                        select(TopicMatchRow.id).where(
                            TopicMatchRow.topic == found.topic,
                            TopicMatchRow.topic_version == found.version,
                            TopicMatchRow.question_set_id == ids[found.question_set],
                            TopicMatchRow.term == reason.term,
                        )
                    )
                    if exists is not None:
                        continue
                    session.add(
                        TopicMatchRow(
                            topic=found.topic, topic_version=found.version,
                            question_set_id=ids[found.question_set], term=reason.term,
                            field=reason.where, excerpt=reason.excerpt,
                        )
                    )  # fmt: skip
                    added += 1
        return added

    def topic_matches(self, topic: str, version: str) -> list[topics.QuestionSetMatch]:
        """The stored matches of one topic version, with their reasons."""
        with self.session() as session:
            rows = session.execute(
                select(TopicMatchRow, QuestionSet)
                .join(QuestionSet, QuestionSet.id == TopicMatchRow.question_set_id)
                .where(TopicMatchRow.topic == topic, TopicMatchRow.topic_version == version)
                .order_by(QuestionSet.number, TopicMatchRow.id)
            ).all()
            grouped: dict[str, tuple[str, list[topics.TopicMatch]]] = {}
            for row, qs in rows:
                entry = grouped.setdefault(qs.number, (qs.title, []))
                entry[1].append(topics.TopicMatch(topic, row.term, row.field, row.excerpt))
            return [
                topics.QuestionSetMatch(topic, version, number, title, tuple(reasons))
                for number, (title, reasons) in grouped.items()
            ]

    def topic_versions(self, topic: str) -> list[str]:
        """Versions of a topic with stored matches, oldest replay first."""
        with self.session() as session:
            rows = session.execute(
                select(TopicMatchRow.topic_version, func.min(TopicMatchRow.id))
                .where(TopicMatchRow.topic == topic)
                .group_by(TopicMatchRow.topic_version)
                .order_by(func.min(TopicMatchRow.id))
            ).all()
            return [str(version) for version, _ in rows]

    # --- sources (h-sources) ---------------------------------------------------------------

    _TEXT_ROLES = ("questions", "delay_notice", "answer", "nader_answer")

    @staticmethod
    def _latest_versions(rendition: Rendition) -> Subquery:
        """(document_id, version_id) of each document's newest version of one rendition, to
        join in one query instead of asking per document."""
        return (
            select(Version.document_id, func.max(Version.id).label("version_id"))
            .where(Version.rendition == rendition.value)
            .group_by(Version.document_id)
            .subquery()
        )

    def files_to_fetch(self) -> dict[str, dict[str, Any]]:
        """Documents whose file (SyncFeed enclosure) is not yet stored as text for its current
        state: never fetched, or the feed announced another length or DocumentVersie since.

        The fingerprint of what the feed announced is kept as the version's validator (`etag`),
        so an unchanged file is fetched once, and a re-emitted entity costs no request.
        """
        latest = self._latest_versions(Rendition.FILE_TEXT)
        with self.session() as session:
            rows = session.execute(
                select(Document.number, Entity.enclosure, Entity.fields, Entity.refs, Version.etag)
                .join(Entity, Entity.guid == Document.guid)
                .outerjoin(latest, latest.c.document_id == Document.id)
                .outerjoin(Version, Version.id == latest.c.version_id)
                .where(
                    Document.deleted.is_(False),
                    Document.number.is_not(None),
                    Document.role.in_(self._TEXT_ROLES),
                    Entity.enclosure.is_not(None),
                )
            ).all()
        out: dict[str, dict[str, Any]] = {}
        for number, enclosure, fields, refs, stored in rows:
            fields = fields or {}
            if not fields.get("contentLength"):
                continue  # the feed announces no file (yet) for this document
            current = (refs or {}).get("huidigeDocumentVersie") or [""]
            fingerprint = f"{fields.get('contentLength', '')};{current[0]}"
            if stored == fingerprint:
                continue
            out[str(number)] = {
                "url": enclosure,
                "length": fields.get("contentLength"),
                "type": fields.get("contentType"),
                "fingerprint": fingerprint,
            }
        return out

    def tk_pages_to_fetch(self, recheck_days: int) -> dict[str, dict[str, str | None]]:
        """tweedekamer.nl detail pages to (re)fetch, keyed by document number, with the Zaak
        number and the validators of the latest stored page; documents older than
        `recheck_days` are left alone."""
        since = (utcnow() - dt.timedelta(days=recheck_days)).date()
        latest = self._latest_versions(Rendition.TK_HTML)
        with self.session() as session:
            rows = session.execute(
                select(
                    Document.number,
                    QuestionSet.number.label("zaak"),
                    Version.etag,
                    Version.last_modified,
                )
                .join(QuestionSet, QuestionSet.id == Document.question_set_id)
                .outerjoin(latest, latest.c.document_id == Document.id)
                .outerjoin(Version, Version.id == latest.c.version_id)
                .where(
                    Document.deleted.is_(False),
                    Document.number.is_not(None),
                    Document.role.in_(self._TEXT_ROLES),
                    or_(Document.dated_on.is_(None), Document.dated_on >= since),
                )
            ).all()
        return {
            str(number): {"zaak": zaak, "etag": etag, "last_modified": last_modified}
            for number, zaak, etag, last_modified in rows
        }

    def assign_question_koop_ids(self) -> int:
        """Give each question document without a KOOP id its `kv-tk-{ZaakNummer}` id, so the
        question set as tabled is fetched too; returns how many were assigned."""
        with self.session() as session:
            rows = session.execute(
                select(Document, QuestionSet)
                .join(QuestionSet, QuestionSet.id == Document.question_set_id)
                .where(Document.role == DocumentRole.QUESTIONS.value, Document.koop_id.is_(None))
            ).all()
            for document, question_set in rows:
                document.koop_id = f"kv-tk-{question_set.number}"
            return len(rows)

    # --- web queries (h-web) -----------------------------------------------------------------

    def question_set_numbers(self) -> list[str]:
        """Every question set number, newest tabled first (for the question set index)."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(QuestionSet.number).order_by(
                        QuestionSet.tabled_on.desc(), QuestionSet.id.desc()
                    )
                ).all()
            )

    def question_set_facets(self, numbers: Iterable[str]) -> dict[str, QuestionSetFacets]:
        """Who asked whom, and the texts topics match on, for the question sets named."""
        wanted = sorted(set(numbers))
        out: dict[str, QuestionSetFacets] = {}
        if not wanted:
            return out
        with self.session() as session:
            for qs in session.scalars(select(QuestionSet).where(QuestionSet.number.in_(wanted))):
                probe = ChangeRecord(
                    0, "", EventKind.TABLED, qs.number, qs.title, "", (), Severity.NONE, "", {}, ""
                )
                out[qs.number] = QuestionSetFacets(
                    number=qs.number,
                    title=qs.title,
                    status=qs.status,
                    askers=tuple(qs.askers or []),
                    addressee=qs.addressee,
                    tabled_on=qs.tabled_on.isoformat() if qs.tabled_on else "",
                    deadline_on=qs.deadline_on.isoformat() if qs.deadline_on else "",
                    topic_fields=self._topic_fields(session, qs, probe),
                )
        return out

    def changes_of(self, question_set: str, limit: int = 500) -> list[ChangeRecord]:
        """A question set's changes, newest first."""
        with self.session() as session:
            rows = session.execute(
                select(Change, QuestionSet, Document)
                .join(QuestionSet, QuestionSet.id == Change.question_set_id)
                .outerjoin(Document, Document.id == Change.document_id)
                .where(QuestionSet.number == question_set)
                .order_by(Change.id.desc())
                .limit(limit)
            ).all()
            return [self._change_record(c, q, d) for c, q, d in rows]

    def version_evidence(self, version_id: int) -> VersionEvidence | None:
        """Everything needed to cite one stored version: where, when, what hash, how parsed."""
        with self.session() as session:
            row = session.execute(
                select(Version, Document, QuestionSet, Blob.size)
                .join(Document, Document.id == Version.document_id)
                .outerjoin(QuestionSet, QuestionSet.id == Document.question_set_id)
                .join(Blob, Blob.sha256 == Version.blob_sha256)
                .where(Version.id == version_id)
            ).first()
            if row is None:
                return None
            v, d, q, size = row
            return VersionEvidence(
                id=v.id,
                document_number=d.number or "",
                koop_id=d.koop_id or "",
                role=d.role,
                document_title=d.title,
                question_set=q.number if q else "",
                rendition=v.rendition,
                source_url=v.source_url,
                fetched_at=as_utc(v.fetched_at).isoformat(),
                blob_sha256=v.blob_sha256,
                size=int(size),
                content_hash=v.content_hash or "",
                etag=v.etag or "",
                last_modified=v.last_modified or "",
                parse_status=v.parse_status,
                parse_error=v.parse_error or "",
            )

    def latest_version_id(self, document: str) -> int | None:
        """The newest successfully parsed version of a document, by number or KOOP id."""
        with self.session() as session:
            return session.scalar(
                select(Version.id)
                .join(Document, Document.id == Version.document_id)
                .where(
                    (Document.number == document) | (Document.koop_id == document),
                    Version.parse_status == "ok",
                )
                .order_by(Version.id.desc())
                .limit(1)
            )

    def items_of(self, question_set: str) -> list[ItemView]:
        """Parsed questions and answers of every version in a question set, in document order."""
        with self.session() as session:
            rows = session.execute(
                select(ParsedItem, Version, Document)
                .join(Version, Version.id == ParsedItem.version_id)
                .join(Document, Document.id == Version.document_id)
                .join(QuestionSet, QuestionSet.id == Document.question_set_id)
                .where(QuestionSet.number == question_set)
                .order_by(Version.id, ParsedItem.position)
            ).all()
            return [
                ItemView(
                    version_id=v.id, document_number=d.number or d.koop_id or "",
                    document_role=d.role, dated_on=d.dated_on.isoformat() if d.dated_on else "",
                    rendition=v.rendition, role=i.role, numbers=tuple(i.numbers.split(",")),
                    label=i.label, text=i.text,
                )
                for i, v, d in rows
            ]  # fmt: skip

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Questions and answers matching a full-text query, best first.

        SQLite uses the FTS5 index, PostgreSQL the Dutch text search configuration. The snippet
        marks matches with `SNIPPET_START` / `SNIPPET_END`, for the caller to escape and mark up.
        """
        with self.session() as session:
            if session.get_bind().dialect.name == "postgresql":
                if not query.strip():
                    return []
                matches = sql_text(
                    "SELECT items.id, ts_headline('dutch', items.text, q, :options) "
                    "FROM items, websearch_to_tsquery('dutch', :query) q "
                    "WHERE to_tsvector('dutch', items.text) @@ q "
                    "ORDER BY ts_rank(to_tsvector('dutch', items.text), q) DESC, items.id DESC "
                    "LIMIT :limit"
                ).bindparams(
                    query=query,
                    limit=limit,
                    options=f"StartSel={SNIPPET_START}, StopSel={SNIPPET_END}, "
                    "MaxWords=35, MinWords=12, MaxFragments=2",
                )
            else:
                expression = fts5_query(query)
                if not expression:
                    return []
                matches = sql_text(
                    "SELECT rowid, snippet(items_search, 0, :start, :end, ' … ', 24) "
                    "FROM items_search WHERE items_search MATCH :query "
                    "ORDER BY rank, rowid DESC LIMIT :limit"
                ).bindparams(query=expression, limit=limit, start=SNIPPET_START, end=SNIPPET_END)
            found = [(int(item_id), str(snippet)) for item_id, snippet in session.execute(matches)]
            if not found:
                return []
            rows = session.execute(
                select(ParsedItem, Version, Document, QuestionSet)
                .join(Version, Version.id == ParsedItem.version_id)
                .join(Document, Document.id == Version.document_id)
                .outerjoin(QuestionSet, QuestionSet.id == Document.question_set_id)
                .where(ParsedItem.id.in_([item_id for item_id, _ in found]))
            ).all()
            by_id = {i.id: (i, v, d, q) for i, v, d, q in rows}
            hits = []
            seen: set[tuple[int, str, str, str]] = set()
            for item_id, snippet in found:
                i, v, d, q = by_id[item_id]
                same = (d.id, i.role, i.numbers, i.text)
                if same in seen:
                    continue  # the same text in another version or rendition of the document
                seen.add(same)
                hits.append(
                    SearchHit(
                        version_id=v.id, document_number=d.number or d.koop_id or "",
                        document_role=d.role, question_set=q.number if q else "",
                        question_set_title=q.title if q else "", role=i.role,
                        numbers=tuple(i.numbers.split(",")), label=i.label, snippet=snippet,
                        text=i.text, fetched_at=as_utc(v.fetched_at).isoformat(),
                    )
                )  # fmt: skip
            return hits

    # --- ops (h-ops) ---------------------------------------------------------------------------

    def job_summaries(self, jobs: Iterable[str]) -> dict[str, JobSummary]:
        """Per job: first and last run, last success and failures since, for health checks."""
        out: dict[str, JobSummary] = {}
        with self.session() as session:
            for job in jobs:
                first = session.scalar(select(func.min(JobRun.started_at)).where(JobRun.job == job))
                last = session.scalar(
                    select(JobRun)
                    .where(JobRun.job == job, JobRun.status != "running")
                    .order_by(JobRun.id.desc())
                    .limit(1)
                )
                success = session.scalar(
                    select(JobRun)
                    .where(JobRun.job == job, JobRun.status == "ok")
                    .order_by(JobRun.id.desc())
                    .limit(1)
                )
                failures = session.scalar(
                    select(func.count())
                    .select_from(JobRun)
                    .where(
                        JobRun.job == job,
                        JobRun.status == "error",
                        JobRun.id > (success.id if success else 0),
                    )
                )
                out[job] = JobSummary(
                    job=job,
                    first_started_at=as_utc(first) if first else None,
                    last_started_at=as_utc(last.started_at) if last else None,
                    last_status=last.status if last else None,
                    last_error=last.error if last else None,
                    last_success_at=(
                        as_utc(success.finished_at) if success and success.finished_at else None
                    ),
                    failures_since_success=int(failures or 0),
                )
        return out

    def outbox_summary(self) -> OutboxSummary:
        counts = self.outbox_counts()
        with self.session() as session:
            oldest = session.scalar(
                select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending")
            )
            error = session.scalar(
                select(OutboxMessage.last_error)
                .where(OutboxMessage.status == "pending", OutboxMessage.last_error.is_not(None))
                .order_by(OutboxMessage.id)
                .limit(1)
            )
        return OutboxSummary(
            pending=counts.get("pending", 0),
            dead=counts.get("dead", 0),
            sent=counts.get("sent", 0),
            oldest_pending_at=as_utc(oldest) if oldest else None,
            last_error=error,
        )

    def cursor_rows(self) -> list[dict[str, Any]]:
        with self.session() as session:
            rows = session.scalars(select(Cursor).order_by(Cursor.source, Cursor.category)).all()
            return [
                {
                    "source": r.source, "category": r.category, "pages": r.pages,
                    "entries": r.entries, "skiptoken": r.skiptoken,
                    "updated_at": as_utc(r.updated_at).isoformat(),
                }
                for r in rows
            ]  # fmt: skip

    def overdue_counts(self, today: dt.date) -> dict[str, int]:
        """Open question sets past their deadline, and those due within a week."""
        open_states = ("tabled", "delayed")
        with self.session() as session:

            def count(*conditions: Any) -> int:
                return int(
                    session.scalar(
                        select(func.count())
                        .select_from(QuestionSet)
                        .where(QuestionSet.status.in_(open_states), *conditions)
                    )
                    or 0
                )

            return {
                "overdue": count(QuestionSet.deadline_on < today),
                "due_within_7_days": count(
                    QuestionSet.deadline_on >= today,
                    QuestionSet.deadline_on <= today + dt.timedelta(days=7),
                ),
            }

    def open_incidents(self) -> dict[str, dt.datetime]:
        """Subjects currently unhealthy (an alert about their onset was queued) → since when."""
        with self.session() as session:
            rows = session.scalars(select(Incident).where(Incident.ended_at.is_(None))).all()
            return {r.subject: as_utc(r.started_at) for r in rows}

    def record_incident(
        self, subject: str, onset: bool, reason: str, messages: list[tuple[str, int, str]]
    ) -> bool:
        """Open or close a subject's incident and queue its operator alerts in one transaction.

        Returns False (and queues nothing) when the incident is already in that state, so each
        onset and each recovery is alerted exactly once.
        """
        with self.session() as session:
            current = session.scalar(
                select(Incident)
                .where(Incident.subject == subject, Incident.ended_at.is_(None))
                .order_by(Incident.id.desc())
                .limit(1)
            )
            if onset == (current is not None):
                return False
            if onset:
                current = Incident(subject=subject, reason=reason[:2000], started_at=utcnow())
                session.add(current)
                session.flush()
            else:
                assert current is not None
                current.ended_at = utcnow()
            phase = "onset" if onset else "recovery"
            for channel, chat_id, text in messages:
                session.add(
                    OutboxMessage(
                        change_id=None, channel=channel, chat_id=chat_id, text=text,
                        idempotency_key=f"incident:{current.id}:{phase}:{channel}:{chat_id}",
                        status="pending",
                    )
                )  # fmt: skip
            return True

    def incidents(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.session() as session:
            rows = session.scalars(select(Incident).order_by(Incident.id.desc()).limit(limit)).all()
            return [
                {
                    "subject": r.subject,
                    "reason": r.reason,
                    "started_at": as_utc(r.started_at).isoformat(),
                    "ended_at": as_utc(r.ended_at).isoformat() if r.ended_at else None,
                }
                for r in rows
            ]

    def versions_to_reprocess(self, question_set: str | None = None) -> list[int]:
        """Ids of every processed version (of one question set), oldest first."""
        with self.session() as session:
            query = select(Version.id).where(Version.parse_status.in_(["ok", "error"]))
            if question_set is not None:
                query = (
                    query.join(Document, Document.id == Version.document_id)
                    .join(QuestionSet, QuestionSet.id == Document.question_set_id)
                    .where(QuestionSet.number == question_set)
                )
            return list(session.scalars(query.order_by(Version.id)).all())

    def reset_version(self, version_id: int) -> None:
        """Forget a version's parse so the next `process` parses its stored body again."""
        with self.session() as session:
            session.execute(delete(ParsedItem).where(ParsedItem.version_id == version_id))
            session.execute(
                update(Version)
                .where(Version.id == version_id)
                .values(parse_status="pending", parse_error=None, content_hash=None)
            )

    def corrections_of(self, question_set: str | None = None) -> list[tuple[int, int, int]]:
        """(change, base version, version) of every correction (of one question set)."""
        with self.session() as session:
            query = select(Change.id, Change.base_version_id, Change.version_id).where(
                Change.event == EventKind.CORRECTED.value,
                Change.base_version_id.is_not(None),
                Change.version_id.is_not(None),
            )
            if question_set is not None:
                query = query.join(QuestionSet, QuestionSet.id == Change.question_set_id).where(
                    QuestionSet.number == question_set
                )
            rows = session.execute(query.order_by(Change.id)).all()
            return [(c, b, v) for c, b, v in rows if b is not None and v is not None]

    def refresh_correction(
        self,
        change_id: int,
        kinds: tuple[ChangeKind, ...],
        severity: Severity,
        summary: str,
        diff_json: dict[str, Any],
    ) -> None:
        """Re-classify an existing correction in place; never queues an alert."""
        with self.session() as session:
            change = session.get(Change, change_id)
            assert change is not None
            change.kinds = [k.value for k in kinds]
            change.severity = severity.value
            change.summary = summary
            change.detail = {**(change.detail or {}), "diff": diff_json}

    def last_success(self, job: str) -> dt.datetime | None:
        """When the last run of `job` that finished without error started."""
        with self.session() as session:
            started = session.scalar(
                select(func.max(JobRun.started_at)).where(JobRun.job == job, JobRun.status == "ok")
            )
            return as_utc(started) if started else None

    def last_start(self, job: str) -> dt.datetime | None:
        """When `job` last started (finished or not)."""
        with self.session() as session:
            started = session.scalar(select(func.max(JobRun.started_at)).where(JobRun.job == job))
            return as_utc(started) if started else None

    # --- telegram (h-telegram) ---------------------------------------------------------------

    def register_chat(self, chat_id: int) -> bool:
        """Create a chat, or reactivate one that had blocked the bot; True if it is new or back."""
        with self.session() as session:
            chat = session.get(Chat, chat_id)
            if chat is None:
                session.add(Chat(chat_id=chat_id, active=True))
                return True
            if chat.active:
                return False
            chat.active = True
            chat.blocked_at = None
            return True

    def chat_settings(self, chat_id: int) -> ChatSettings | None:
        with self.session() as session:
            chat = session.get(Chat, chat_id)
            if chat is None:
                return None
            subs = session.scalars(
                select(Subscription)
                .where(Subscription.chat_id == chat_id)
                .order_by(Subscription.id)
            ).all()
            now = utcnow()
            muted = [s for s in subs if s.muted_until and as_utc(s.muted_until) > now]
            return ChatSettings(
                chat_id=chat.chat_id,
                active=chat.active,
                blocked=chat.blocked_at is not None,
                muted_until=as_utc(chat.muted_until) if chat.muted_until else None,
                digest=chat.digest,
                subscriptions=tuple(SubscriptionRecord(s.chat_id, s.kind, s.value) for s in subs),
                muted_subscriptions=tuple(
                    SubscriptionRecord(s.chat_id, s.kind, s.value) for s in muted
                ),
            )

    def unsubscribe(self, chat_id: int, kind: str | None = None, value: str | None = None) -> int:
        """Remove a chat's subscriptions: all, all of one kind, or one; returns how many."""
        with self.session() as session:
            query = select(Subscription).where(Subscription.chat_id == chat_id)
            if kind is not None:
                query = query.where(Subscription.kind == kind)
            if value is not None:
                query = query.where(func.lower(Subscription.value) == value.lower())
            rows = session.scalars(query).all()
            for row in rows:
                session.delete(row)
            return len(rows)

    def set_chat_mute(self, chat_id: int, until: dt.datetime | None) -> None:
        with self.session() as session:
            session.execute(update(Chat).where(Chat.chat_id == chat_id).values(muted_until=until))

    def set_digest(self, chat_id: int, on: bool) -> None:
        """Switch digest mode; the first digest comes one period after switching it on."""
        with self.session() as session:
            session.execute(
                update(Chat)
                .where(Chat.chat_id == chat_id)
                .values(digest=on, digest_sent_at=utcnow() if on else None)
            )

    def mute_subscriptions(
        self, chat_id: int, chosen: Iterable[SubscriptionRecord], until: dt.datetime
    ) -> int:
        with self.session() as session:
            count = 0
            for sub in chosen:
                count += _rowcount(
                    session.execute(
                        update(Subscription)
                        .where(
                            Subscription.chat_id == chat_id,
                            Subscription.kind == sub.kind,
                            Subscription.value == sub.value,
                        )
                        .values(muted_until=until)
                    )
                )
            return count

    def change_with_fields(self, change_id: int) -> tuple[ChangeRecord, dict[str, str]] | None:
        """A change and the texts topics match on, to tell which subscription it came through."""
        with self.session() as session:
            change = session.get(Change, change_id)
            if change is None:
                return None
            qs = (
                session.get(QuestionSet, change.question_set_id) if change.question_set_id else None
            )
            document = session.get(Document, change.document_id) if change.document_id else None
            record = self._change_record(change, qs, document)
            return record, self._topic_fields(session, qs, record)

    def deactivate_chat(self, chat_id: int, reason: str) -> int:
        """A chat that blocked the bot: stop planning for it and give up its pending messages."""
        with self.session() as session:
            session.execute(
                update(Chat)
                .where(Chat.chat_id == chat_id)
                .values(active=False, blocked_at=utcnow())
            )
            return _rowcount(
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == "pending")
                    .values(status="dead", last_error=reason[:500])
                )
            )

    def due_queue(self, channel: str, limit: int = 500) -> list[QueuedMessage]:
        """Due outbox messages of a channel, oldest first, with their chat's delivery settings."""
        with self.session() as session:
            rows = session.execute(
                select(OutboxMessage, Chat, QuestionSet.number)
                .outerjoin(Chat, Chat.chat_id == OutboxMessage.chat_id)
                .outerjoin(Change, Change.id == OutboxMessage.change_id)
                .outerjoin(QuestionSet, QuestionSet.id == Change.question_set_id)
                .where(
                    OutboxMessage.channel == channel,
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= utcnow(),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).all()
            return [
                QueuedMessage(
                    id=m.id,
                    chat_id=m.chat_id,
                    change_id=m.change_id,
                    question_set=number or "",
                    text=m.text,
                    attempts=m.attempts,
                    first_part=m.change_id is not None and m.idempotency_key.endswith(":0"),
                    muted_until=as_utc(c.muted_until) if c and c.muted_until else None,
                    digest=bool(c and c.digest),
                    digest_sent_at=as_utc(c.digest_sent_at) if c and c.digest_sent_at else None,
                )
                for m, c, number in rows
            ]

    def defer_messages(self, ids: Iterable[int], until: dt.datetime, note: str = "") -> None:
        """Hold messages until `until` without counting an attempt (mute, digest, flood control)."""
        values: dict[str, Any] = {"next_attempt_at": until}
        if note:
            values["last_error"] = note[:500]
        with self.session() as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(list(ids))).values(**values)
            )

    def collapse_messages(
        self, channel: str, chat_id: int, ids: list[int], key: str, text: str
    ) -> None:
        """Replace pending messages by one (a burst summary or a digest) in one transaction."""
        with self.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
                .values(status="collapsed", last_error=f"collapsed into {key}"[:500])
            )
            if session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)):
                return
            session.add(
                OutboxMessage(
                    change_id=None, channel=channel, chat_id=chat_id, idempotency_key=key,
                    text=text, status="pending",
                )
            )  # fmt: skip

    def mark_digest_sent(self, chat_id: int) -> None:
        with self.session() as session:
            session.execute(
                update(Chat).where(Chat.chat_id == chat_id).values(digest_sent_at=utcnow())
            )

    def enqueue_direct(self, channel: str, key: str, chat_ids: Iterable[int], text: str) -> int:
        """Outbox rows not tied to a change (admin notices); `key` makes each one-off per chat."""
        added = 0
        with self.session() as session:
            for chat_id in chat_ids:
                full = f"{key}:{chat_id}"
                if session.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.idempotency_key == full)
                ):
                    continue
                session.add(
                    OutboxMessage(
                        change_id=None, channel=channel, chat_id=chat_id, idempotency_key=full,
                        text=text, status="pending",
                    )
                )  # fmt: skip
                added += 1
        return added

    def last_runs(self) -> dict[str, dict[str, str]]:
        """The latest finished run of every job: status, finish time and error."""
        with self.session() as session:
            latest = (
                select(func.max(JobRun.id))
                .where(JobRun.finished_at.is_not(None))
                .group_by(JobRun.job)
            )
            rows = session.scalars(select(JobRun).where(JobRun.id.in_(latest))).all()
            return {
                r.job: {
                    "status": r.status,
                    "finished_at": as_utc(r.finished_at).isoformat() if r.finished_at else "",
                    "error": (r.error or "")[:200],
                }
                for r in rows
            }

    def telegram_stats(self) -> dict[str, int]:
        with self.session() as session:
            out = {
                "chats_active": int(
                    session.scalar(select(func.count()).where(Chat.active.is_(True))) or 0
                ),
                "chats_blocked": int(
                    session.scalar(select(func.count()).where(Chat.blocked_at.is_not(None))) or 0
                ),
                "chats_digest": int(
                    session.scalar(select(func.count()).where(Chat.digest.is_(True))) or 0
                ),
            }
            for kind, count in session.execute(
                select(Subscription.kind, func.count()).group_by(Subscription.kind)
            ).all():
                out[f"subscriptions_{kind}"] = int(count)
            return out


SNIPPET_START = "\ue000"
SNIPPET_END = "\ue001"
_FTS_TERM = re.compile(r'"([^"]+)"|(\w+\*?)')


def fts5_query(query: str) -> str:
    """A user's words as a safe FTS5 expression: every word or "phrase" must occur.

    Each term is quoted, so FTS5 operators and stray punctuation in the input are just text;
    a trailing `*` keeps its meaning as a prefix search.

    >>> fts5_query('geen toestemming "real time" gezichtsherk* OR)')
    '"geen" "toestemming" "real time" "gezichtsherk"*'
    >>> fts5_query('"; DROP')
    '"DROP"'
    """
    terms = []
    for phrase, word in _FTS_TERM.findall(query):
        if phrase.strip():
            terms.append('"' + phrase.strip().replace('"', "") + '"')
        elif word and word.upper() not in ("AND", "OR", "NOT", "NEAR"):
            terms.append(f'"{word.rstrip("*")}"' + ("*" if word.endswith("*") else ""))
    return " ".join(terms)


@dataclass(frozen=True, slots=True)
class QuestionSetFacets:
    """A question set's filterable facts: askers with party, addressee, topic texts."""

    number: str
    title: str
    status: str
    askers: tuple[str, ...]
    addressee: str
    tabled_on: str
    deadline_on: str
    topic_fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class VersionEvidence:
    """A stored version as evidence: source, fetch time, hashes, validators and parse outcome."""

    id: int
    document_number: str
    koop_id: str
    role: str
    document_title: str
    question_set: str
    rendition: str
    source_url: str
    fetched_at: str
    blob_sha256: str
    size: int
    content_hash: str
    etag: str
    last_modified: str
    parse_status: str
    parse_error: str


@dataclass(frozen=True, slots=True)
class ItemView:
    """One parsed question or answer of a stored version."""

    version_id: int
    document_number: str
    document_role: str
    dated_on: str
    rendition: str
    role: str
    numbers: tuple[str, ...]
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A question or answer matching a search, with a marked snippet."""

    version_id: int
    document_number: str
    document_role: str
    question_set: str
    question_set_title: str
    role: str
    numbers: tuple[str, ...]
    label: str
    snippet: str
    text: str
    fetched_at: str
