"""Measured speed-ups of Rasa 3.6's turns, installed when the Rasa server loads ``bot.channels``.

Action calls: Rasa checks every answer of the action server against a JSON schema
(``RemoteAction._validate_action_result``) with ``jsonschema.validate``, which first re-checks the schema
itself against its meta-schema and builds a new validator: on this project's 2-core machine that was about a
third of the Rasa server's CPU time per knowledge-base answer turn (profiled with py-spy; see
docs/adr/0007-fast-conversation-turns.md). :func:`install` replaces that method with one that validates
against the same schema with a validator built once. Answers are still validated, and invalid ones still
raise the same ``ValidationError`` with Rasa's message.

SQLite tracker store: connections use write-ahead logging with ``synchronous=NORMAL``, which does not wait for
the disk on every commit; a crash of the Rasa server loses nothing, a power cut may lose the last turns'
dialogue state (the API keeps every message itself). PostgreSQL, the production tracker store, is untouched.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from typing import Any

from jsonschema import ValidationError, exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from sqlalchemy import event
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's ``RemoteAction._validate_action_result``, with the validator built once."""
    error = exceptions.best_match(_action_result_validator().iter_errors(result))
    if error is None:
        return True
    assert isinstance(error, ValidationError)
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the Action "
        f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def _fast_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    """On each new SQLite connection: write-ahead log, no disk flush on every commit."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def install() -> None:
    """Installs both speed-ups (once; later calls do nothing)."""
    if RemoteAction._validate_action_result is not _validate_action_result:  # type: ignore[comparison-overlap]
        RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
        logger.info("action results are validated with a precompiled JSON schema validator")
    if not event.contains(Engine, "connect", _fast_sqlite):
        event.listen(Engine, "connect", _fast_sqlite)
