"""The FastAPI application ``app = create_app()``, served by ``uvicorn api.main:app`` or ``python -m api``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from api.config import Settings, get_settings
from api.cors import CitizenCORSMiddleware, parse_origins
from api.db import Database, create_db_engine, run_migrations
from api.deps import Services
from api.desk import Desk
from api.errors import install_error_handlers
from api.events import create_broker
from api.rasa_client import RasaClient
from api.ratelimit import RateLimits, parse_rate_limits
from api.retention import RetentionTask
from api.routes import auth, conversations, handoffs, health, pages, webhooks, widget
from api.turns import ConversationLocks

logger = logging.getLogger(__name__)

MAX_BODY_SIZE = 64 * 1024
"""Largest request body accepted, in bytes."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Migrate the database, open the engine and the HTTP client before serving; close them after.

    The conversations idle for longer than ``retention_days`` are deleted before serving, then every hour,
    and Rasa is asked to forget its trackers idle as long (``api.retention``).

    Args:
        app: The application, whose ``state.settings`` were set by ``create_app``.

    Yields:
        Nothing: the application serves while suspended here.
    """
    settings: Settings = app.state.settings
    # Blocking on purpose: nothing is served until the schema is current.
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    http = httpx.AsyncClient(trust_env=False)
    rasa = RasaClient(settings.rasa_url, timeout=settings.rasa_timeout, http=http)
    broker = create_broker(settings.redis_url)
    app.state.services = Services(
        db=db,
        http=http,
        rasa=rasa,
        locks=ConversationLocks(),
        rate_limits=RateLimits(parse_rate_limits(settings.rate_limits)),
        broker=broker,
        desk=Desk(db, broker, rasa, settings),
    )
    retention = RetentionTask(
        db, settings.retention_days, rasa=rasa, secret=settings.webhook_secret.get_secret_value()
    )
    await retention.start()
    logger.info(
        "Guichet API ready (%s; database %s; Rasa at %s)",
        settings.environment,
        db.engine.url.render_as_string(hide_password=True),
        settings.rasa_url,
    )
    try:
        yield
    finally:
        await retention.stop()
        await broker.aclose()
        await http.aclose()
        db.dispose()
        del app.state.services


def create_app(settings: Settings | None = None) -> FastAPI:
    """Create the API application.

    Args:
        settings: The settings; by default, those of the environment (``GUICHET_*`` variables and ``.env``).

    Returns:
        The application; its lifespan migrates the database and opens the connections.
    """
    settings = settings if settings is not None else get_settings()
    app = FastAPI(
        title="Guichet API",
        summary="Citizens' conversations with the commune's assistant, and the human agents behind it.",
        version="0.1.0",
        lifespan=lifespan,
        max_body_size=MAX_BODY_SIZE,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(conversations.router, prefix="/api")
    app.include_router(webhooks.router, prefix="/api")
    app.include_router(auth.router, prefix="/api")
    app.include_router(handoffs.router, prefix="/api")
    app.include_router(widget.router, prefix="/api")
    app.include_router(pages.router)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(CitizenCORSMiddleware, origins=parse_origins(settings.widget_origins))
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    return app


app = create_app()
