"""``python -m api`` serves the API with uvicorn on the configured port, migrating a fresh database first."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.config import REPO_ROOT
from api.rasa_client import RasaClient, RasaUnavailable, probe

STARTUP_TIMEOUT_SECONDS = 60


def test_the_app_is_importable_for_uvicorn() -> None:
    from api.main import app

    paths = set(app.openapi()["paths"])
    assert {"/health", "/api/conversations", "/api/conversations/{conversation_id}/messages"} <= paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path, closed_port: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The API run as ``python -m api`` on a free port, with a new SQLite file; stopped with Ctrl-C after."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.upper().startswith("GUICHET_")}
    env |= {
        "GUICHET_API_PORT": str(port),
        "GUICHET_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'guichet.db'}",
        "GUICHET_RASA_PORT": str(closed_port),
        "GUICHET_ACTIONS_PORT": str(closed_port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api"],
        cwd=tmp_path,  # the package must not depend on the current directory
        env=env | {"PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"python -m api exited with {process.returncode}:\n{process.stdout.read()}")  # type: ignore[union-attr]
            try:
                httpx.get(f"{base_url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("python -m api did not start in time")
                time.sleep(0.2)
        yield base_url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_python_m_api_serves_and_stops_cleanly(
    server: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    base_url, process = server

    created = httpx.post(f"{base_url}/api/conversations", json={"language": "en"}, timeout=5)
    health = httpx.get(f"{base_url}/health", timeout=10)
    openapi = httpx.get(f"{base_url}/openapi.json", timeout=5).json()

    assert created.status_code == 201
    assert health.status_code == 503
    assert health.json()["checks"]["database"] == "ok"
    assert (tmp_path / "var" / "guichet.db").is_file()
    assert {"/health", "/api/conversations", "/api/conversations/{conversation_id}/messages"} <= set(
        openapi["paths"]
    )

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0
    output = process.stdout.read()  # type: ignore[union-attr]
    assert f"Uvicorn running on {base_url}" in output
    assert "Guichet API ready" in output


@pytest.mark.anyio
async def test_rasa_client_treats_error_statuses_as_unavailable(
    server: tuple[str, subprocess.Popen[str]],
) -> None:
    # A real HTTP server that is not Rasa: under a prefix it does not serve, the API answers 404 on Rasa's
    # webhook and on Rasa's status page.
    base_url, _ = server
    client = RasaClient(f"{base_url}/not-rasa", timeout=5)
    try:
        with pytest.raises(RasaUnavailable, match="Rasa answered HTTP 404"):
            await client.send("conversation", "Bonjour", "fr")
        assert (await client.status()) == "HTTP 404"
    finally:
        await client.aclose()
    async with httpx.AsyncClient() as http:
        assert await probe(http, f"{base_url}/health", timeout=10) == "HTTP 503"
