"""Alembic migrations: they build the schema the models describe, on an empty SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from api.config import Settings
from api.db import alembic_config, create_db_engine, run_migrations
from api.models import Base
from tests.api.helpers import MIGRATED_TABLES


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> str:
    """The URL of an existing, empty SQLite file."""
    path = tmp_path / "empty.db"
    path.touch()
    return f"sqlite:///{path}"


def test_upgrade_creates_the_schema_on_an_empty_file(empty_sqlite: str) -> None:
    run_migrations(empty_sqlite)

    engine = create_engine(empty_sqlite)
    try:
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == MIGRATED_TABLES
        assert {c["name"] for c in inspector.get_columns("conversations")} == {
            "id",
            "token_hash",
            "language",
            "language_known",
            "mode",
            "created_at",
            "updated_at",
        }
        assert {c["name"] for c in inspector.get_columns("messages")} == {
            "id",
            "conversation_id",
            "seq",
            "author",
            "text",
            "buttons",
            "source",
            "language",
            "created_at",
        }
        assert [c["column_names"] for c in inspector.get_unique_constraints("messages")] == [
            ["conversation_id", "seq"]
        ]
        assert [i["column_names"] for i in inspector.get_indexes("messages")] == [["conversation_id"]]
        [foreign_key] = inspector.get_foreign_keys("messages")
        assert foreign_key["referred_table"] == "conversations"
        assert {c["name"] for c in inspector.get_columns("handoffs")} == {
            "id",
            "conversation_id",
            "status",
            "language",
            "reason",
            "note",
            "created_at",
            "claimed_at",
            "closed_at",
            "assignee",
            "kind",
            "contact",
            "transcript",
        }
        assert {c["name"] for c in inspector.get_columns("feedback")} == {
            "id",
            "conversation_id",
            "message_seq",
            "slug",
            "question",
            "helpful",
            "comment",
            "language",
            "source",
            "created_at",
        }
        assert sorted(i["column_names"] for i in inspector.get_indexes("handoffs")) == [
            ["conversation_id"],
            ["status", "created_at"],
        ]
        assert sorted(i["column_names"] for i in inspector.get_indexes("feedback")) == [
            ["conversation_id"],
            ["created_at"],
            ["slug"],
        ]
        for table in ("handoffs", "feedback"):
            [foreign_key] = inspector.get_foreign_keys(table)
            assert (foreign_key["referred_table"], foreign_key["options"]) == (
                "conversations",
                {"ondelete": "CASCADE"},
            )
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0003"
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(empty_sqlite: str) -> None:
    run_migrations(empty_sqlite)

    engine = create_db_engine(empty_sqlite)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_downgrade_then_upgrade_again(empty_sqlite: str) -> None:
    run_migrations(empty_sqlite)
    engine = create_db_engine(empty_sqlite)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()

    run_migrations(empty_sqlite)

    engine = create_engine(empty_sqlite)
    try:
        assert {"conversations", "messages"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _insert_conversation(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (id, token_hash, language, mode, created_at, updated_at)"
                " VALUES ('c1', 'h', 'fr', 'bot', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
            )
        )


@pytest.mark.parametrize(
    "statement",
    [
        # a second message with the same seq in the conversation
        "INSERT INTO messages (conversation_id, seq, author, text, buttons, created_at)"
        " VALUES ('c1', 1, 'bot', 'again', '[]', '2025-01-01 00:00:00')",
        # a message of a conversation that does not exist
        "INSERT INTO messages (conversation_id, seq, author, text, buttons, created_at)"
        " VALUES ('nope', 1, 'bot', 'orphan', '[]', '2025-01-01 00:00:00')",
        # an author that does not exist
        "INSERT INTO messages (conversation_id, seq, author, text, buttons, created_at)"
        " VALUES ('c1', 2, 'robot', 'who', '[]', '2025-01-01 00:00:00')",
        # a mode that does not exist
        "UPDATE conversations SET mode = 'closed'",
        # a handoff status that does not exist
        "INSERT INTO handoffs (id, conversation_id, status, language, reason, created_at)"
        " VALUES ('h1', 'c1', 'lost', 'fr', 'requested', '2025-01-01 00:00:00')",
        # a handoff in a language the bot does not speak
        "INSERT INTO handoffs (id, conversation_id, status, language, reason, created_at)"
        " VALUES ('h1', 'c1', 'waiting', 'de', 'requested', '2025-01-01 00:00:00')",
        # a handoff of a conversation that does not exist
        "INSERT INTO handoffs (id, conversation_id, status, language, reason, created_at)"
        " VALUES ('h1', 'nope', 'waiting', 'fr', 'requested', '2025-01-01 00:00:00')",
        # feedback from a channel that does not exist
        "INSERT INTO feedback (conversation_id, helpful, source, created_at)"
        " VALUES ('c1', 1, 'email', '2025-01-01 00:00:00')",
        # feedback on a conversation that does not exist
        "INSERT INTO feedback (conversation_id, helpful, source, created_at)"
        " VALUES ('nope', 1, 'widget', '2025-01-01 00:00:00')",
    ],
)
def test_constraints_guard_the_data(empty_sqlite: str, statement: str) -> None:
    run_migrations(empty_sqlite)
    engine = create_db_engine(empty_sqlite)
    try:
        _insert_conversation(engine)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO messages (conversation_id, seq, author, text, buttons, created_at)"
                    " VALUES ('c1', 1, 'citizen', 'hello', '[]', '2025-01-01 00:00:00')"
                )
            )
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def test_startup_creates_the_database_folder_and_schema(settings: Settings, tmp_path: Path) -> None:
    from api.main import create_app

    database = tmp_path / "var" / "guichet.db"
    assert not database.parent.exists()

    with TestClient(create_app(settings)):
        assert database.is_file()

    engine = create_engine(settings.sqlalchemy_url)
    try:
        assert {"conversations", "messages"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_deleting_a_conversation_deletes_its_handoffs_and_feedback(empty_sqlite: str) -> None:
    run_migrations(empty_sqlite)
    engine = create_db_engine(empty_sqlite)
    try:
        _insert_conversation(engine)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO handoffs (id, conversation_id, status, language, reason, created_at)"
                    " VALUES ('h1', 'c1', 'waiting', 'fr', 'requested', '2025-01-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO feedback (conversation_id, helpful, source, created_at)"
                    " VALUES ('c1', 0, 'bot', '2025-01-01 00:00:00')"
                )
            )
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM conversations"))
            counts = [
                connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("handoffs", "feedback")
            ]
        assert counts == [0, 0]
    finally:
        engine.dispose()


def test_0002_stores_missing_sources_as_null(empty_sqlite: str) -> None:
    run_migrations(empty_sqlite, "0001")
    engine = create_db_engine(empty_sqlite)
    try:
        _insert_conversation(engine)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO messages (conversation_id, seq, author, text, buttons, source, created_at)"
                    " VALUES ('c1', 1, 'bot', 'hello', '[]', 'null', '2025-01-01 00:00:00'),"
                    " ('c1', 2, 'bot', 'answer', '[]', '{\"slug\": \"passport\"}', '2025-01-01 00:00:00')"
                )
            )

        run_migrations(empty_sqlite)

        with engine.connect() as connection:
            rows = connection.execute(text("SELECT seq, source FROM messages ORDER BY seq")).all()
        assert [tuple(row) for row in rows] == [(1, None), (2, '{"slug": "passport"}')]
    finally:
        engine.dispose()
