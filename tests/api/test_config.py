"""Settings: GUICHET_* variables, derived URLs, database drivers, refusal of default secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from api.config import DEFAULT_DATABASE_URL, REPO_ROOT, Settings, sqlalchemy_url, sqlite_file


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type,call-arg]


def test_defaults_serve_a_development_machine() -> None:
    settings = make()
    assert settings.environment == "development"
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert sqlite_file(settings.database_url) == REPO_ROOT / "var" / "guichet.db"
    assert (settings.api_port, settings.rasa_port, settings.actions_port) == (8000, 5005, 5055)
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.actions_url == "http://127.0.0.1:5055"
    assert settings.webhook_secret.get_secret_value() == "dev-webhook-secret"
    assert settings.redis_url is None
    assert settings.default_language == "fr"
    assert settings.rasa_timeout == 10


def test_variables_override_defaults_and_urls_follow_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_API_PORT", "9000")
    monkeypatch.setenv("GUICHET_RASA_PORT", "6005")
    monkeypatch.setenv("GUICHET_ACTIONS_PORT", "6055")
    monkeypatch.setenv("GUICHET_DEFAULT_LANGUAGE", "en")
    monkeypatch.setenv("GUICHET_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = make()
    assert settings.api_port == 9000
    assert settings.rasa_url == "http://127.0.0.1:6005"
    assert settings.actions_url == "http://127.0.0.1:6055"
    assert settings.default_language == "en"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


def test_explicit_urls_win_over_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_RASA_PORT", "6005")
    monkeypatch.setenv("GUICHET_RASA_URL", "http://rasa.internal:5005/")
    assert make().rasa_url == "http://rasa.internal:5005"


def test_env_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GUICHET_API_PORT=8123\nGUICHET_KB_BACKEND=use\n", encoding="utf-8")
    assert Settings(_env_file=env_file).api_port == 8123  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("sqlite:///var/guichet.db", "sqlite:///var/guichet.db"),
        ("sqlite+aiosqlite:////tmp/g.db", "sqlite:////tmp/g.db"),
        ("postgresql://u:p%40ss@db:5432/guichet", "postgresql+psycopg://u:p%40ss@db:5432/guichet"),
        ("postgres://u@db/guichet", "postgresql+psycopg://u@db/guichet"),
        (
            "postgresql+asyncpg://u@db/guichet?sslmode=require",
            "postgresql+psycopg://u@db/guichet?sslmode=require",
        ),
    ],
)
def test_database_urls_get_the_api_driver(configured: str, expected: str) -> None:
    assert sqlalchemy_url(configured) == expected
    assert make(database_url=configured).sqlalchemy_url == expected


@pytest.mark.parametrize("url", ["mysql://u@db/guichet", "not a url"])
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="database_url"):
        make(database_url=url)


def test_production_refuses_the_default_webhook_secret() -> None:
    with pytest.raises(ValidationError, match="GUICHET_WEBHOOK_SECRET"):
        make(environment="production")


def test_production_accepts_a_real_secret() -> None:
    settings = make(environment="Production", webhook_secret="a-long-random-secret-for-tests")
    assert not settings.is_development
    assert settings.environment == "production"


@pytest.mark.parametrize(
    ("name", "value"), [("api_port", 0), ("rasa_timeout", 0), ("default_language", "de")]
)
def test_invalid_values_are_refused(name: str, value: object) -> None:
    with pytest.raises(ValidationError, match=name):
        make(**{name: value})
