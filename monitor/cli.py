"""The `kamerwacht` command line: parse arguments, set up logging, dispatch to a command."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from monitor import config as config_module
from monitor import diff, jobs, lifecycle, render, schema, segment, topics
from monitor.config import Config, ConfigError
from monitor.records import FeedSeek, ParsedDocument, ParseError, Rendition
from monitor.store import Store

logger = logging.getLogger("monitor")


def _config_path(given: str | None) -> Path | None:
    if given:
        return Path(given)
    if os.environ.get("KAMERWACHT_CONFIG"):
        return Path(os.environ["KAMERWACHT_CONFIG"])
    default = Path("config.toml")
    return default if default.exists() else None


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("apscheduler", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def detect_rendition(body: bytes) -> Rendition:
    """Guess the rendition of a file given to `kamerwacht diff`."""
    head = body[:2000].lstrip().lower()
    if head.startswith(b"<?xml") or b"<officiele-publicatie" in head or b"<kamervragen" in head:
        return Rendition.KOOP_XML
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        return Rendition.KOOP_HTML
    return Rendition.TEXT


def read_document(path: str) -> ParsedDocument:
    try:
        body = Path(path).read_bytes()
    except OSError as exc:
        raise ParseError(f"{path}: {exc.strerror}") from exc
    return segment.parse(body, detect_rendition(body), Path(path).stem)


def cmd_diff(args: argparse.Namespace) -> int:
    try:
        old = read_document(args.old)
        new = read_document(args.new)
    except ParseError as exc:
        print(f"kamerwacht diff: {exc}", file=sys.stderr)
        return 2
    carry = args.nader or "nader" in " ".join(new.header).lower()
    result = diff.compare(old, new, carry_forward=carry)
    if args.format == "json":
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    elif args.format == "html":
        print(render.standalone_html(result, Path(args.old).name, Path(args.new).name))
    else:
        print(render.diff_text(result))
    return 0


def cmd_migrate(config: Config) -> int:
    engine = _engine(config)
    schema.upgrade(engine)
    print(f"database at revision {schema.current_revision(engine)}")
    return 0


_ENGINES: list[Engine] = []
"""Engines made by this invocation; `main` disposes them, so no pooled connection outlives it."""


def _engine(config: Config) -> Engine:
    engine = schema.make_engine(config.database_url)
    _ENGINES.append(engine)
    return engine


def _store(config: Config) -> Store:
    engine = _engine(config)
    schema.require_head(engine)
    return Store(engine, jobs.make_planner(config, telegram=False))


def cmd_crawl(config: Config, source: str, since: str | None = None) -> int:
    store = _store(config)
    result = asyncio.run(jobs.crawl(config, source, store, since=since, progress=True))
    if result is None:
        print(f"{source}: nothing to crawl")
        return 0
    records = list(jobs.read_records(result.path))
    for seek in (r for r in records if isinstance(r, FeedSeek)):
        print(
            f"{seek.category}: {seek.since[:10]} starts after skiptoken {seek.skiptoken}"
            f" ({seek.requests} requests)"
        )
    print(f"{result.path}\t{len(records)} records\t{result.seconds:.1f} s")
    return 0


def cmd_ingest(config: Config, path: str, replay: bool) -> int:
    store = _store(config)
    result = jobs.ingest_file(store, Path(path), silent=replay)
    processed = jobs.process(store, silent=replay)
    print(f"ingested: {result}\nprocessed: {processed}")
    return 0


def cmd_process(config: Config) -> int:
    store = _store(config)
    print(jobs.process(store))
    return 0


def cmd_run(config: Config) -> int:
    from monitor.daemon import AlreadyRunning, Daemon

    try:
        asyncio.run(Daemon(config).run())
    except (AlreadyRunning, schema.SchemaError) as exc:
        print(f"kamerwacht run: {exc}", file=sys.stderr)
        return 1
    return 0


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") + " UTC" if value else "never"


def cmd_status(config: Config, as_json: bool) -> int:
    """Sources, cursors, last success, lag, outbox depth and overdue counts; exit 1 if unhealthy."""
    import datetime as dt

    from sqlalchemy.exc import OperationalError

    from monitor import status

    try:
        store = _store(config)
        now = dt.datetime.now(dt.UTC)
        report = status.current(store, config, now)
    except OperationalError as exc:
        # The driver's message names host and port, never the password.
        print(f"kamerwacht status: cannot read the database: {exc.orig}", file=sys.stderr)
        return 2
    data = report.to_json()
    data["cursors"] = store.cursor_rows()
    data["questions"] = store.overdue_counts(now.date())
    data["incidents"] = [i for i in store.incidents(limit=20) if i["ended_at"] is None]
    if as_json:
        print(json.dumps(data, indent=2))
        return 0 if report.ok else 1
    print(f"Kamerwacht status at {_when(data['checked_at'])}: {data['status'].upper()}")
    print(f"Database: {store.engine.dialect.name}, schema {schema.current_revision(store.engine)}")
    print("Sources:")
    for source in report.sources:
        lag = "" if source.lag_seconds is None else f", lag {source.lag_seconds:.0f} s"
        state = f"STALE: {source.reason}" if source.stale else "ok"
        success = _when(source.last_success_at.isoformat() if source.last_success_at else None)
        print(
            f"  {source.name:<9} every {source.interval:g} s, last success {success}{lag}, "
            f"last run {source.last_status or 'none'}: {state}"
        )
    print("Cursors:")
    for cursor in data["cursors"]:
        print(
            f"  {cursor['source']}/{cursor['category']:<15} skiptoken {cursor['skiptoken']}, "
            f"{cursor['pages']} pages, {cursor['entries']} entries, "
            f"updated {_when(cursor['updated_at'])}"
        )
    if not data["cursors"]:
        print("  none yet (the feed has not been read)")
    outbox = report.outbox
    oldest = (
        "" if outbox.oldest_pending_seconds is None
        else f", oldest {outbox.oldest_pending_seconds:.0f} s"
    )  # fmt: skip
    stuck = f": STUCK: {outbox.reason}" if outbox.stuck else ""
    print(f"Outbox: {outbox.pending} pending{oldest}, {outbox.dead} dead{stuck}")
    questions = data["questions"]
    print(
        f"Questions: {questions['overdue']} overdue, "
        f"{questions['due_within_7_days']} due within 7 days"
    )
    for incident in data["incidents"]:
        print(f"Open incident: {incident['subject']} since {_when(incident['started_at'])}")
    return 0 if report.ok else 1


def cmd_backup(config: Config, destination: str) -> int:
    from monitor.backup import BackupError, backup_sqlite, sqlite_path

    source = sqlite_path(config.database_url)
    if source is None:
        print(
            "kamerwacht backup: the database is not SQLite; back up PostgreSQL with pg_dump",
            file=sys.stderr,
        )
        return 2
    try:
        written = backup_sqlite(source, Path(destination))
    except (BackupError, OSError) as exc:
        print(f"kamerwacht backup: {exc}", file=sys.stderr)
        return 1
    print(f"{written}\t{written.stat().st_size} bytes")
    return 0


def cmd_reprocess(config: Config, question_set: str | None) -> int:
    """Re-parse stored bodies with the current parser; takes the daemon's lock, alerts nothing old."""
    from monitor.daemon import AlreadyRunning, DatabaseLock
    from monitor.reprocess import reprocess

    store = _store(config)
    lock = DatabaseLock(store.engine, config.data_path)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"kamerwacht reprocess: {exc}", file=sys.stderr)
        return 1
    try:
        result = reprocess(store, question_set)
    finally:
        lock.release()
    print(
        f"reprocessed {result.versions} versions ({result.unparseable} unparseable); "
        f"{result.refreshed} corrections re-classified ({result.no_longer_detected} no longer "
        f"detected); {result.new_changes} new corrections stored without alerts"
    )
    return 0


def cmd_serve(config: Config, host: str | None, port: int | None) -> int:
    import uvicorn

    from monitor.web import create_app

    engine = _engine(config)
    schema.require_head(engine)
    app = create_app(Store(engine), config)
    uvicorn.run(app, host=host or config.web.host, port=port or config.web.port, log_level="info")
    return 0


def cmd_verify(config: Config) -> int:
    """Verify every stored body against its hash and the database's integrity."""
    report = _store(config).verify()
    for problem in report["problems"]:
        print(problem)
    print(f"checked {report['blobs']} bodies: {len(report['problems'])} problems")
    return 1 if report["problems"] else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    data_dir = Path(args.data_dir) if args.data_dir else None
    try:
        return asyncio.run(run_demo(data_dir, args.interval, args.linger, args.port))
    except KeyboardInterrupt:
        return 130


def _today(given: str | None) -> dt.date:
    return dt.date.fromisoformat(given) if given else dt.datetime.now(dt.UTC).date()


def cmd_question(config: Config, args: argparse.Namespace) -> int:
    engine = _engine(config)
    schema.require_head(engine)
    timeline = Store(engine).question_timeline(args.number.upper())
    if timeline is None:
        print(f"kamerwacht question: {args.number} is not in the archive", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(timeline.to_json(), ensure_ascii=False, indent=2))
    else:
        print(lifecycle.timeline_text(timeline, _today(args.today)))
    return 0


def cmd_overdue(config: Config, args: argparse.Namespace) -> int:
    today = _today(args.today)
    store = _store(config)
    states = store.deadline_states(today)
    shown = [s for s in states if s.overdue or s.delayed or args.all]
    if args.format == "json":
        print(json.dumps([dataclasses.asdict(s) for s in shown], default=str, indent=2))
    else:
        for s in shown:
            state = f"OVERDUE {s.days_late} d" if s.overdue else "open"
            delay = "delayed" if s.delayed else "       "
            deadline = s.deadline_on.isoformat() if s.deadline_on else "?"
            print(f"{s.number}  {state:14} {delay}  deadline {deadline}  {s.title}")
        print(f"{sum(s.overdue for s in states)} overdue, {sum(s.delayed for s in states)} delayed"
              f", {len(states)} awaiting an answer on {today.isoformat()}")  # fmt: skip
    if args.record:
        ids = store.record_overdue(today, silent=args.silent)
        print(f"recorded {len(ids)} new overdue events", file=sys.stderr)
    return 0


def cmd_topics(config: Config, args: argparse.Namespace) -> int:
    store = _store(config)
    chosen = [t for t in config_module.topics_of(config) if not args.name or t.name == args.name]
    if not chosen:
        print(f"kamerwacht topics: no topic named {args.name!r}", file=sys.stderr)
        return 2
    for topic in chosen:
        version = topics.version_of(topic)
        print(f"{topic.name}  version {version}  {len(topic.terms)} terms  {topic.description}")
        if not args.replay:
            stored = store.topic_matches(topic.name, version)
            print(f"  {len(stored)} question sets matched (stored); --replay to re-run")
            continue
        found = topics.replay(topic, store.topic_corpus())
        earlier = [v for v in store.topic_versions(topic.name) if v != version]
        added = store.save_topic_matches(found)  # stored only: a replay never alerts
        for match in found:
            print(f"  {match.question_set}  {match.title}")
            for reason in match.reasons:
                print(f"      {topics.explain(reason)}")
        summary = f"  {len(found)} question sets match; {added} new reasons stored"
        if earlier:
            before = {m.question_set for m in store.topic_matches(topic.name, earlier[-1])}
            now = {m.question_set for m in found}
            summary += (
                f"; against version {earlier[-1]}: +{len(now - before)} -{len(before - now)}"
                + "".join(f"\n  entered: {n}" for n in sorted(now - before))
                + "".join(f"\n  left: {n}" for n in sorted(before - now))
            )
        print(summary)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kamerwacht",
        description="Watch Dutch written parliamentary questions and flag changed answers.",
    )
    parser.add_argument(
        "--config", help="config file (default: $KAMERWACHT_CONFIG or ./config.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="bring the database to the current schema")
    crawl = sub.add_parser("crawl", help="run one source's spider and write its JSON Lines file")
    crawl.add_argument("source", choices=list(jobs.SOURCES))
    crawl.add_argument(
        "--since", metavar="DATE", help="syncfeed: start categories without a cursor at DATE"
    )
    ingest = sub.add_parser("ingest", help="store a crawl file (JSON Lines) and process it")
    ingest.add_argument("file")
    ingest.add_argument("--replay", action="store_true", help="store silently: no alerts")
    sub.add_parser("process", help="parse, diff and classify pending versions")
    d = sub.add_parser("diff", help="compare two answer documents (KOOP XML, HTML or text)")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument("--format", choices=["text", "json", "html"], default="text")
    d.add_argument(
        "--nader", action="store_true", help="NEW amends OLD: unanswered numbers carry over"
    )
    question = sub.add_parser("question", help="show a question set's timeline (e.g. 2021Z14612)")
    question.add_argument("number")
    question.add_argument("--format", choices=["text", "json"], default="text")
    question.add_argument("--today", help="judge deadlines as on this date (YYYY-MM-DD)")
    overdue = sub.add_parser("overdue", help="list overdue and delayed question sets")
    overdue.add_argument("--today", help="judge deadlines as on this date (YYYY-MM-DD)")
    overdue.add_argument("--all", action="store_true", help="also list sets not yet due")
    overdue.add_argument("--format", choices=["text", "json"], default="text")
    overdue.add_argument(
        "--record", action="store_true", help="store an OVERDUE event (and its alerts) per set"
    )
    overdue.add_argument("--silent", action="store_true", help="with --record: no alerts")
    topic_cmd = sub.add_parser("topics", help="list topics; --replay re-matches the archive")
    topic_cmd.add_argument("--name", help="only this topic")
    topic_cmd.add_argument(
        "--replay", action="store_true", help="match the stored history again (sends no alerts)"
    )
    sub.add_parser("run", help="run the daemon: scheduler, alerts and web app")
    sub.add_parser("verify", help="check every stored body against its hash, and the database")

    st = sub.add_parser("status", help="show source health, cursors, outbox and overdue counts")
    st.add_argument("--json", action="store_true", help="print JSON (exit 1 when unhealthy)")
    backup = sub.add_parser("backup", help="copy the SQLite database consistently while it runs")
    backup.add_argument("destination", help="file or folder for the copy")
    rep = sub.add_parser("reprocess", help="re-parse and re-diff stored bodies (no new alerts)")
    rep.add_argument("--question-set", help="only this question set (e.g. 2021Z14612)")
    serve = sub.add_parser("serve", help="serve the read-only web app")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    demo = sub.add_parser("demo", help="replay the seed case end to end on this machine")
    demo.add_argument("--data-dir", help="where to keep the demo database (default: a temp dir)")
    demo.add_argument("--interval", type=float, default=2.0, help="poll interval in seconds")
    demo.add_argument("--linger", type=float, default=60.0, help="seconds to keep serving the page")
    demo.add_argument("--port", type=int, default=8080, help="web port (another is used if busy)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    if args.command == "diff":
        return cmd_diff(args)
    if args.command == "demo":
        return cmd_demo(args)
    try:
        config = config_module.load(_config_path(args.config))
    except ConfigError as exc:
        print(f"kamerwacht: config error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "migrate":
            return cmd_migrate(config)
        if args.command == "crawl":
            return cmd_crawl(config, args.source, args.since)
        if args.command == "ingest":
            return cmd_ingest(config, args.file, args.replay)
        if args.command == "process":
            return cmd_process(config)
        if args.command == "question":
            return cmd_question(config, args)
        if args.command == "overdue":
            return cmd_overdue(config, args)
        if args.command == "topics":
            return cmd_topics(config, args)
        if args.command == "run":
            return cmd_run(config)
        if args.command == "status":
            return cmd_status(config, args.json)
        if args.command == "backup":
            return cmd_backup(config, args.destination)
        if args.command == "reprocess":
            return cmd_reprocess(config, args.question_set)
        if args.command == "serve":
            return cmd_serve(config, args.host, args.port)
        if args.command == "verify":
            return cmd_verify(config)
    except schema.SchemaError as exc:
        print(f"kamerwacht: {exc}", file=sys.stderr)
        return 1
    finally:
        while _ENGINES:
            _ENGINES.pop().dispose()
    raise AssertionError(args.command)  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
