"""Every database read and write; returns records, never ORM objects.

Writes are idempotent: entity state hashes, body hashes and change keys make a repeated ingest
or process a no-op, so any job can be re-run after a crash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor import lifecycle
from monitor.models import (
    Blob,
    Change,
    Chat,
    Cursor,
    Document,
    Entity,
    EntityEvent,
    JobRun,
    OutboxMessage,
    ParsedItem,
    QuestionSet,
    Subscription,
    Version,
)
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
    OutboxItem,
    ParsedDocument,
    Rendition,
    Severity,
)


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
        page: list[FeedEntity] = []
        for record in records:
            if isinstance(record, FeedEntity):
                page.append(record)
            elif isinstance(record, FeedPage):
                with self.session() as session:
                    for entity in page:
                        self._upsert_entity(session, entity, result)
                    self._advance_cursor(session, record)
                result.pages += 1
                page = []
            elif isinstance(record, FetchedBody):
                self._save_body(record, result)
            elif isinstance(record, CrawlProblem):
                result.problems.append(f"{record.url}: {record.message}")
        if page:
            result.problems.append(
                f"{len(page)} feed entries after the last complete page were not stored"
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

    def _upsert_entity(self, session: Session, record: FeedEntity, result: IngestResult) -> None:
        state = json.dumps(
            {"f": record.fields, "r": record.refs, "d": record.deleted}, sort_keys=True
        ).encode()
        state_hash = sha256(state)
        entity = session.scalar(select(Entity).where(Entity.guid == record.guid))
        if entity is not None and entity.state_hash == state_hash:
            result.unchanged += 1  # a re-emission of an unchanged entity
            return
        if record.deleted and entity is None:
            entity = Entity(guid=record.guid, category=record.category, fields={}, refs={})
            session.add(entity)
        event = "deleted" if record.deleted else ("created" if entity is None else "updated")
        if entity is None:
            entity = Entity(guid=record.guid, category=record.category)
            session.add(entity)
        if record.deleted:
            result.tombstones += 1
            entity.deleted = True  # the last known fields are kept: a deletion is an event
        else:
            entity.fields = dict(record.fields)
            entity.refs = {k: list(v) for k, v in record.refs.items()}
            entity.deleted = False
            entity.enclosure = record.enclosure
        entity.state_hash = state_hash
        entity.updated = record.updated
        entity.changed_at = utcnow()
        entity.resolved = False
        session.flush()
        blob = self._put_blob(session, record.raw.encode()) if record.raw else None
        session.add(
            EntityEvent(
                entity_id=entity.id, event=event, updated=record.updated,
                bijgewerkt=record.bijgewerkt, blob_sha256=blob,
            )
        )  # fmt: skip
        result.entities += 1

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

    def resolve(self, silent: bool) -> list[int]:
        """Turn unresolved feed entities into question sets and documents; returns new change ids."""
        new_changes: list[int] = []
        with self.session() as session:
            order = {"Zaak": 0, "ZaakActor": 1, "Document": 2, "DocumentVersie": 3}
            pending = session.scalars(select(Entity).where(Entity.resolved.is_(False))).all()
            for entity in sorted(pending, key=lambda e: (order.get(e.category, 9), e.id)):
                done = self._resolve_one(session, entity, silent, new_changes)
                entity.resolved = done
        return new_changes

    def _resolve_one(
        self, session: Session, entity: Entity, silent: bool, changes: list[int]
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
            return True
        return True

    def _give_up_later(self, entity: Entity) -> bool:
        # The referenced entity may arrive in a later page or category; stop retrying after a day.
        return bool(utcnow() - as_utc(entity.changed_at) > dt.timedelta(days=1))

    def _question_set_by_guid(self, session: Session, guid: str) -> QuestionSet | None:
        return session.scalar(select(QuestionSet).where(QuestionSet.guid == guid)) if guid else None

    def _resolve_document(
        self, session: Session, entity: Entity, silent: bool, changes: list[int]
    ) -> bool:
        f = entity.fields
        existing = session.scalar(select(Document).where(Document.guid == entity.guid))
        if entity.deleted:
            if existing is not None:
                existing.deleted = True  # recorded, never removed; no alert
            return True
        role = lifecycle.role_of(f.get("soort", ""), f.get("onderwerp", ""))
        if role is DocumentRole.OTHER:
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
                .order_by(Version.id)
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
                previous = session.scalar(
                    select(Version)
                    .join(Document, Document.id == Version.document_id)
                    .where(
                        Document.question_set_id == document.question_set_id,
                        Document.id != document.id,
                        Document.role.in_(["answer", "nader_answer"]),
                        Version.parse_status == "ok",
                        Version.id < pending.id,
                    )
                    .order_by(Version.id.desc())
                    .limit(1)
                )
                carry = True
            if previous is None:
                return None
            blob = session.get(Blob, previous.blob_sha256)
            assert blob is not None
            return previous.id, zlib.decompress(blob.data), Rendition(previous.rendition), carry

    def save_parsed(
        self,
        pending: PendingVersion,
        parsed: ParsedDocument,
        content_hash: str,
        correction: dict[str, Any] | None,
        silent: bool,
    ) -> int | None:
        """Store a parsed version's items and, in the same transaction, its correction change."""
        with self.session() as session:
            version = session.get(Version, pending.id)
            assert version is not None
            if version.parse_status != "pending":
                return None  # processed by an earlier run that finished after we read it
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
            if correction is None:
                return None
            document = session.get(Document, pending.document_id)
            assert document is not None
            question_set = (
                session.get(QuestionSet, document.question_set_id)
                if document.question_set_id
                else None
            )
            severity = Severity(correction["severity"])
            return self._add_change(
                session,
                key=f"corrected:{correction['base_version_id']}:{version.id}",
                event=EventKind.CORRECTED,
                question_set=question_set,
                document=document,
                summary=correction["summary"],
                detail=correction["detail"],
                silent=silent or severity is Severity.NONE,
                kinds=tuple(ChangeKind(k) for k in correction["kinds"]),
                severity=severity,
                version_id=version.id,
                base_version_id=correction["base_version_id"],
            )

    def koop_ids_to_fetch(self, recheck_days: int) -> dict[str, list[str | None]]:
        """KOOP ids with their validators: never fetched yet, or recent enough to be rechecked."""
        since = (utcnow() - dt.timedelta(days=recheck_days)).date()
        with self.session() as session:
            documents = session.scalars(
                select(Document).where(Document.koop_id.is_not(None), Document.deleted.is_(False))
            ).all()
            out: dict[str, list[str | None]] = {}
            for document in documents:
                latest = session.scalar(
                    select(Version)
                    .where(
                        Version.document_id == document.id,
                        Version.rendition == Rendition.KOOP_XML.value,
                    )
                    .order_by(Version.id.desc())
                    .limit(1)
                )
                if latest is None:
                    out[str(document.koop_id)] = [None, None]
                elif document.dated_on is None or document.dated_on >= since:
                    out[str(document.koop_id)] = [latest.etag, latest.last_modified]
            return out

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

    def due_messages(self, channel: str, limit: int = 100) -> list[OutboxItem]:
        with self.session() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.channel == channel,
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= utcnow(),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).all()
            return [OutboxItem(r.id, r.channel, r.chat_id, r.text, r.attempts) for r in rows]

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

    def job_history(self, job: str, limit: int = 500) -> list[tuple[int, str, str | None]]:
        """(run id, status, error) of a job's runs, newest first."""
        with self.session() as session:
            rows = session.execute(
                select(JobRun.id, JobRun.status, JobRun.error)
                .where(JobRun.job == job)
                .order_by(JobRun.id.desc())
                .limit(limit)
            ).all()
            return [(int(i), str(s), e) for i, s, e in rows]

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
