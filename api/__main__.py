"""``python -m api``: serve the API with uvicorn on ``GUICHET_API_HOST:GUICHET_API_PORT`` (127.0.0.1:8000)."""

from __future__ import annotations

import logging

import uvicorn

from api.config import get_settings
from api.main import create_app


def main() -> None:
    """Serve the API in the foreground until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info")


if __name__ == "__main__":
    main()
