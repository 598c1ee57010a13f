"""Data retention (``api.retention``): idle conversations are deleted with everything they hold, on SQLite and
PostgreSQL, by the API (at startup, then periodically) and by ``python -m api.retention``; then Rasa is asked
to forget its trackers idle as long.

Rasa does not run here: it is either on a closed port, or stood for by a real HTTP server checking the
signature as the ``guichet`` channel does (the real route is tested in ``tests/e2e/test_rasa_forget.py``).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from api import retention, signing
from api.config import Settings, get_settings
from api.db import Database, create_db_engine, run_migrations
from api.main import create_app
from api.models import Base, Conversation, Feedback, Handoff, HandoffStatus, Message, utcnow
from api.rasa_client import FORGET_PATH, RasaClient, RasaUnavailable
from api.retention import RetentionTask, count_expired, purge_expired

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
TABLES = ("conversations", "messages", "handoffs", "feedback")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    """Settings on a migrated, empty database: a SQLite file, then a PostgreSQL schema (skipped when the
    server is down)."""
    if request.param == "postgresql":
        settings = make_settings(GUICHET_DATABASE_URL=request.getfixturevalue("pg_database_url"))
    else:
        settings = make_settings()
    run_migrations(settings.database_url)
    return settings


@dataclass
class FakeRasa:
    """A real HTTP server standing for Rasa's ``guichet`` channel.

    It checks each request's signature with ``secret`` as the channel does (``api.signing.verify``): signed
    requests are recorded as ``(path, body)`` and answered ``answer``; others are counted and answered 401.
    """

    url: str = ""
    secret: str = "the-secret-rasa-shares"
    answer: tuple[int, Any] = (200, {"forgotten": 3})
    requests: list[tuple[str, Any]] = field(default_factory=list)
    refused: int = 0


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    """A ``FakeRasa`` serving on a free local port, in a thread."""
    rasa = FakeRasa()

    class Channel(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if signing.verify(rasa.secret, body, self.headers.get(signing.SIGNATURE_HEADER)):
                rasa.requests.append((self.path, json.loads(body)))
                status, answer = rasa.answer
            else:
                rasa.refused += 1
                status, answer = 401, {"detail": "missing or invalid signature"}
            payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Channel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rasa.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield rasa
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def db(db_settings: Settings) -> Iterator[Database]:
    """The database of ``db_settings``."""
    database = Database(create_db_engine(db_settings.database_url))
    yield database
    database.dispose()


def seed(
    session: Session,
    conversation_id: str,
    *,
    created: datetime,
    messages: Sequence[datetime] = (),
    handoffs: Sequence[str] = (),
    feedback: int = 0,
) -> None:
    """Store a conversation created at ``created``, with messages at the given times, handoffs in the given
    statuses and ``feedback`` verdicts; committed."""
    session.add(
        Conversation(
            id=conversation_id,
            token_hash="0" * 64,
            language="fr",
            mode="bot",
            created_at=created,
            updated_at=max([created, *messages]),
        )
    )
    session.flush()
    for seq, at in enumerate(messages, start=1):
        session.add(
            Message(conversation_id=conversation_id, seq=seq, author="citizen", text="Bonjour", created_at=at)
        )
    for status in handoffs:
        closed = status == HandoffStatus.CLOSED.value
        session.add(
            Handoff(
                id=uuid.uuid4().hex,
                conversation_id=conversation_id,
                status=status,
                language="fr",
                reason="requested",
                created_at=created,
                closed_at=created + DAY if closed else None,
            )
        )
    for _ in range(feedback):
        session.add(
            Feedback(
                conversation_id=conversation_id,
                message_seq=1,
                helpful=False,
                source="widget",
                created_at=created,
            )
        )
    session.commit()


def rows(session: Session) -> dict[str, dict[str, int]]:
    """Return, for each conversation id, how many rows each table holds for it (absent once all are gone)."""
    counts: dict[str, dict[str, int]] = {}
    for conversation_id in session.scalars(select(Conversation.id)):
        counts[conversation_id] = {"conversations": 1}
    for model in (Message, Handoff, Feedback):
        query = select(model.conversation_id, func.count()).group_by(model.conversation_id)
        for conversation_id, count in session.execute(query):
            counts.setdefault(conversation_id, {})[model.__tablename__] = count
    session.rollback()
    return counts


def totals(session: Session) -> dict[str, int]:
    """Return the number of rows of each table of conversation data."""
    result = {table: session.scalar(text(f"SELECT count(*) FROM {table}")) or 0 for table in TABLES}
    session.rollback()
    return result


def test_idle_conversations_are_deleted_with_everything_they_hold(db: Database) -> None:
    with db.session() as session:
        seed(
            session,
            "old",
            created=NOW - 200 * DAY,
            messages=[NOW - 200 * DAY, NOW - 91 * DAY],
            handoffs=["closed", "closed"],
            feedback=2,
        )
        seed(session, "old_empty", created=NOW - 91 * DAY)
        seed(session, "recent", created=NOW - 10 * DAY, messages=[NOW - 10 * DAY], feedback=1)
        seed(session, "recent_empty", created=NOW - 89 * DAY)
        seed(
            session,
            "revived",
            created=NOW - 300 * DAY,
            messages=[NOW - 300 * DAY, NOW - 5 * DAY],
            handoffs=["closed"],
            feedback=1,
        )
        seed(
            session, "last_message_just_in", created=NOW - 300 * DAY, messages=[NOW - 90 * DAY + 1 * DAY / 24]
        )
        seed(session, "waiting", created=NOW - 200 * DAY, messages=[NOW - 200 * DAY], handoffs=["waiting"])
        seed(
            session,
            "active",
            created=NOW - 200 * DAY,
            messages=[NOW - 200 * DAY],
            handoffs=["closed", "active"],
            feedback=1,
        )
        before = rows(session)

        assert count_expired(session, now=NOW, days=90) == 2
        assert rows(session) == before  # counting deletes nothing
        assert purge_expired(session, now=NOW, days=90) == 2

        kept = {name: counts for name, counts in before.items() if name not in ("old", "old_empty")}
        assert rows(session) == kept
        assert totals(session) == {"conversations": 6, "messages": 6, "handoffs": 4, "feedback": 3}
        assert purge_expired(session, now=NOW, days=90) == 0
        assert rows(session) == kept


def test_the_retention_period_is_the_given_number_of_days(db: Database) -> None:
    with db.session() as session:
        seed(session, "a", created=NOW - 40 * DAY, messages=[NOW - 40 * DAY])
        seed(session, "b", created=NOW - 20 * DAY, messages=[NOW - 20 * DAY])

        assert purge_expired(session, now=NOW, days=90) == 0
        assert purge_expired(session, now=NOW, days=30) == 1
        assert set(rows(session)) == {"b"}
        assert purge_expired(session, now=NOW, days=1) == 1
        assert totals(session) == dict.fromkeys(TABLES, 0)


def test_thousands_of_conversations_are_deleted_in_batches(db: Database) -> None:
    old, recent = NOW - 100 * DAY, NOW - DAY
    conversations = [
        {
            "id": f"c{number:05d}",
            "token_hash": "0" * 64,
            "language": "fr",
            "mode": "bot",
            "created_at": recent if number % 10 == 0 else old,
            "updated_at": old,
        }
        for number in range(3000)
    ]
    messages = [
        {
            "conversation_id": c["id"],
            "seq": seq,
            "author": "bot",
            "text": "Bonjour",
            "buttons": [],
            "created_at": c["created_at"],
        }
        for c in conversations
        for seq in (1, 2)
    ]
    with db.session() as session:
        session.execute(insert(Conversation), conversations)
        session.execute(insert(Message), messages)
        session.execute(
            insert(Feedback),
            [{"conversation_id": c["id"], "helpful": True, "source": "bot"} for c in conversations],
        )
        session.commit()

        assert purge_expired(session, now=NOW, days=90) == 2700
        assert totals(session) == {"conversations": 300, "messages": 600, "handoffs": 0, "feedback": 300}
        assert all(int(name[1:]) % 10 == 0 for name in rows(session))


def test_every_table_referencing_conversations_is_purged() -> None:
    referencing = {
        table.name
        for table in Base.metadata.tables.values()
        for key in table.foreign_keys
        if key.column.table.name == "conversations"
    }
    assert referencing == {model.__tablename__ for model in retention.DEPENDENT_MODELS}


def test_a_conversation_locked_by_a_writer_is_skipped_not_waited_for(
    pg_database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(GUICHET_DATABASE_URL=pg_database_url)
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    try:
        with db.session() as session:
            seed(session, "busy", created=NOW - 200 * DAY, messages=[NOW - 200 * DAY])
            seed(session, "idle", created=NOW - 200 * DAY, messages=[NOW - 200 * DAY])
        with db.session() as writer, db.session() as session:
            # A turn in flight holds its conversation's row (crud.get_conversation(..., for_update=True)).
            writer.get(Conversation, "busy", with_for_update=True)

            assert purge_expired(session, now=NOW, days=90) == 1
            writer.rollback()
            assert set(rows(session)) == {"busy"}
    finally:
        db.dispose()


def test_the_api_purges_at_startup(db_settings: Settings, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(GUICHET_DATABASE_URL=db_settings.database_url, GUICHET_RETENTION_DAYS="30")
    db = Database(create_db_engine(settings.database_url))
    now = utcnow()
    try:
        with db.session() as session:
            seed(
                session,
                "old",
                created=now - 45 * DAY,
                messages=[now - 45 * DAY],
                handoffs=["closed"],
                feedback=1,
            )
            seed(session, "recent", created=now - 15 * DAY, messages=[now - 15 * DAY])

        with TestClient(create_app(settings)), db.session() as session:
            assert rows(session) == {"recent": {"conversations": 1, "messages": 1}}
            assert totals(session) == {"conversations": 1, "messages": 1, "handoffs": 0, "feedback": 0}
    finally:
        db.dispose()


@pytest.mark.anyio
async def test_the_task_purges_periodically_and_survives_errors(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    clock = [NOW]
    calls: list[datetime] = []
    real_purge = retention.purge_expired

    def flaky_purge(session: Session, *, now: datetime, days: int) -> int:
        calls.append(now)
        if len(calls) == 2:
            raise RuntimeError("database unavailable")
        return real_purge(session, now=now, days=days)

    monkeypatch.setattr(retention, "purge_expired", flaky_purge)
    task = RetentionTask(db, 90, interval=timedelta(milliseconds=20), clock=lambda: clock[0])
    try:
        with db.session() as session:
            seed(session, "c", created=NOW - 60 * DAY, messages=[NOW - 60 * DAY])

        with caplog.at_level(logging.INFO, logger="api.retention"):
            await task.start()
            assert len(calls) == 1  # the purge at startup is done when start() returns
            with db.session() as session:
                assert set(rows(session)) == {"c"}  # idle 60 days: kept

            clock[0] = NOW + 31 * DAY
            with anyio.fail_after(5):
                # The fourth purge starts once the third (after the failed second) has finished and logged.
                while len(calls) < 4:
                    await anyio.sleep(0.01)
            await task.stop()

        count = len(calls)
        await anyio.sleep(0.1)
        assert len(calls) == count  # stopped: no more purges
        with db.session() as session:
            assert totals(session) == dict.fromkeys(TABLES, 0)
        messages = [record.getMessage() for record in caplog.records]
        assert any("Could not delete the expired conversations" in message for message in messages)
        assert "Deleted 1 conversation(s) with no activity for 90 days" in messages
    finally:
        await task.stop()
        db.dispose()


@pytest.mark.anyio
async def test_after_each_purge_the_task_asks_rasa_to_forget_as_long(
    settings: Settings, fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    rasa = RasaClient(fake_rasa.url, timeout=5)
    task = RetentionTask(
        db, 45, interval=timedelta(milliseconds=30), clock=lambda: NOW, rasa=rasa, secret=fake_rasa.secret
    )
    try:
        with db.session() as session:
            seed(session, "old", created=NOW - 60 * DAY, messages=[NOW - 60 * DAY])

        with caplog.at_level(logging.INFO, logger="api.retention"):
            await task.start()
            with db.session() as session:
                assert totals(session) == dict.fromkeys(TABLES, 0)  # purged before start() returns
            with anyio.fail_after(5):
                while len(fake_rasa.requests) < 3:  # right after startup, then after each purge
                    await anyio.sleep(0.01)
            await task.stop()

        assert fake_rasa.refused == 0
        assert fake_rasa.requests[:3] == [(FORGET_PATH, {"idle_days": 45})] * 3
        messages = [record.getMessage() for record in caplog.records]
        assert "Rasa forgot 3 conversation(s) with no activity for 45 days" in messages
        assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    finally:
        await task.stop()
        await rasa.aclose()
        db.dispose()


@pytest.mark.anyio
@pytest.mark.parametrize("failure", ["unreachable", "wrong secret", "unsupported tracker store"])
async def test_when_rasa_cannot_forget_the_task_warns_and_goes_on(
    settings: Settings,
    fake_rasa: FakeRasa,
    closed_port: int,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    url, secret = fake_rasa.url, fake_rasa.secret
    if failure == "unreachable":
        url = f"http://127.0.0.1:{closed_port}"
    elif failure == "wrong secret":
        secret = "not-the-secret-rasa-shares"
    else:
        fake_rasa.answer = (501, {"detail": "cannot delete trackers from MongoTrackerStore"})
    rasa = RasaClient(url, timeout=5)
    clock = [NOW]
    task = RetentionTask(
        db, 90, interval=timedelta(milliseconds=30), clock=lambda: clock[0], rasa=rasa, secret=secret
    )

    def warnings() -> list[str]:
        return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]

    try:
        with db.session() as session:
            seed(session, "c", created=NOW - 60 * DAY, messages=[NOW - 60 * DAY])
        with caplog.at_level(logging.INFO, logger="api.retention"):
            await task.start()
            with anyio.fail_after(5):
                while len(warnings()) < 2:  # the task survived the first failure
                    await anyio.sleep(0.01)
            clock[0] = NOW + 31 * DAY
            with anyio.fail_after(5):
                while "Deleted 1 conversation(s) with no activity for 90 days" not in caplog.messages:
                    await anyio.sleep(0.01)  # and still purges the API's database
            await task.stop()

        assert all(
            message.startswith("Could not ask Rasa to forget the conversations idle for 90 days (")
            for message in warnings()
        )
        reason = {
            "unreachable": "cannot reach Rasa at",
            "wrong secret": "Rasa answered HTTP 401",
            "unsupported tracker store": "Rasa answered HTTP 501: "
            '{"detail": "cannot delete trackers from MongoTrackerStore"}',
        }[failure]
        assert reason in warnings()[0]
        if failure == "wrong secret":
            # Each refusal was logged, but the task may have been stopped while one was on its way back.
            assert len(warnings()) <= fake_rasa.refused <= len(warnings()) + 1
        else:
            assert fake_rasa.refused == 0
    finally:
        await task.stop()
        await rasa.aclose()
        db.dispose()


@pytest.mark.anyio
async def test_the_api_does_not_wait_for_rasa_at_startup(settings: Settings, silent_port: int) -> None:
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    rasa = RasaClient(f"http://127.0.0.1:{silent_port}", timeout=60)
    task = RetentionTask(db, 90, rasa=rasa, secret="the-secret-rasa-shares")
    try:
        with anyio.fail_after(5):
            await task.start()  # Rasa is asked in the background, where it never answers
            await task.stop()  # which does not hold up stopping either
    finally:
        await task.stop()
        await rasa.aclose()
        db.dispose()


def test_rasa_and_its_secret_go_together(settings: Settings) -> None:
    db = Database(create_db_engine(settings.database_url))
    rasa = RasaClient("http://127.0.0.1:1", timeout=1)
    try:
        with pytest.raises(ValueError, match="together"):
            RetentionTask(db, 90, rasa=rasa)
        with pytest.raises(ValueError, match="together"):
            RetentionTask(db, 90, secret="the-secret-rasa-shares")
    finally:
        anyio.run(rasa.aclose)
        db.dispose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answer",
    [
        (200, {"forgotten": "3"}),
        (200, {"forgotten": True}),
        (200, {"resumed": True}),
        (200, [3]),
        (200, b"not json"),
        (400, {"detail": "expected {'idle_days': int >= 1}"}),
        (503, {"detail": "no model loaded yet"}),
    ],
)
async def test_odd_answers_to_forget_are_rasa_failures(fake_rasa: FakeRasa, answer: tuple[int, Any]) -> None:
    fake_rasa.answer = answer
    rasa = RasaClient(fake_rasa.url, timeout=5)
    try:
        with pytest.raises(RasaUnavailable):
            await rasa.forget(90, fake_rasa.secret)
        assert fake_rasa.requests == [(FORGET_PATH, {"idle_days": 90})]
    finally:
        await rasa.aclose()


def cli(*argv: str) -> tuple[int, str, str]:
    """Run ``python -m api.retention`` in-process on fresh settings; return its status, stdout and stderr."""
    get_settings.cache_clear()
    out, err = io.StringIO(), io.StringIO()
    try:
        status = retention.main(list(argv), stdout=out, stderr=err)
    finally:
        get_settings.cache_clear()
    return status, out.getvalue(), err.getvalue()


def test_cli_dry_run_counts_and_deletes_nothing(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(GUICHET_RETENTION_DAYS="30")  # Rasa on a closed port
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    now = utcnow()

    try:
        with db.session() as session:
            seed(session, "old1", created=now - 45 * DAY, messages=[now - 45 * DAY], feedback=1)
            seed(session, "old2", created=now - 400 * DAY, handoffs=["closed"])
            seed(session, "recent", created=now - 15 * DAY, messages=[now - 15 * DAY])
            before = totals(session)

        dry_run = "Would delete 2 conversation(s) with no activity for 30 days\n"
        assert cli("--dry-run") == (0, dry_run + "Rasa's trackers: not asked (dry run)\n", "")
        with db.session() as session:
            assert totals(session) == before
            assert set(rows(session)) == {"old1", "old2", "recent"}

        status, out, err = cli()
        assert (status, out) == (1, "Deleted 2 conversation(s) with no activity for 30 days\n")
        assert err.startswith(
            f"Could not ask Rasa at {settings.rasa_url} to forget its idle trackers: cannot reach"
        )
        with db.session() as session:
            assert set(rows(session)) == {"recent"}
        assert cli("--dry-run")[1].startswith("Would delete 0 conversation(s) with no activity for 30 days\n")
    finally:
        db.dispose()


def test_cli_asks_rasa_to_forget_too(make_settings: Callable[..., Settings], fake_rasa: FakeRasa) -> None:
    settings = make_settings(
        GUICHET_RETENTION_DAYS="30", GUICHET_RASA_URL=fake_rasa.url, GUICHET_WEBHOOK_SECRET=fake_rasa.secret
    )
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    try:
        with db.session() as session:
            seed(session, "old", created=utcnow() - 45 * DAY)

        assert cli() == (
            0,
            "Deleted 1 conversation(s) with no activity for 30 days\n"
            "Rasa forgot 3 conversation(s) with no activity for 30 days\n",
            "",
        )
        assert fake_rasa.requests == [(FORGET_PATH, {"idle_days": 30})]
        assert fake_rasa.refused == 0
    finally:
        db.dispose()


def test_retention_days_setting(make_settings: Callable[..., Settings]) -> None:
    assert make_settings().retention_days == 90
    assert make_settings(GUICHET_RETENTION_DAYS="365").retention_days == 365
    for wrong in ("0", "3651", "ninety"):
        with pytest.raises(ValidationError, match="retention_days"):
            make_settings(GUICHET_RETENTION_DAYS=wrong)
