"""The real API in a subprocess and Debian's headless Chromium, for the agents' desk tests.

The API runs under uvicorn on a free port with its own SQLite file; Rasa is not running (a citizen's message
sent while the bot has the conversation is stored, then answered 503, which is all these tests need). Staff
accounts are made with the ``python -m api.users`` command line, as an administrator would.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (or ``$GUICHET_CHROMIUM``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    WebSocketRoute,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from api.signing import DEFAULT_WEBHOOK_SECRET, SIGNATURE_HEADER, sign
from scripts.browser import CHROMIUM_ARGS, chromium_path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"


#: Staff accounts made before the API starts: name → (role, password, display name).
ACCOUNTS = {
    "agent1": ("agent", "agent1-password-Correct", "Marie Dupont"),
    "agent2": ("agent", "agent2-password-Correct", "Paul Martin"),
    "editor1": ("editor", "editor1-password-Correct", "Éloïse Rédac"),
}

STARTUP_TIMEOUT = 90.0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(database: Path, port: int) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.upper().startswith("GUICHET_")
    }
    environment.update(
        {
            "GUICHET_DATABASE_URL": f"sqlite:///{database}",
            "GUICHET_OFFICE_HOURS": "always",
            "GUICHET_RATE_LIMITS": "off",
            "GUICHET_API_PORT": str(port),
            # Nothing listens there: a turn that needs Rasa fails fast (503) instead of reaching a dev stack.
            "GUICHET_RASA_PORT": str(free_port()),
            "GUICHET_ACTIONS_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment


@dataclass(frozen=True)
class Citizen:
    """One citizen's conversation, driven through the citizens' API."""

    api_url: str
    conversation_id: str
    token: str

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def send(self, text: str) -> httpx.Response:
        """Send a message; while the bot has the conversation the answer is 503 (Rasa is not running)."""
        return httpx.post(
            f"{self.api_url}/api/conversations/{self.conversation_id}/messages",
            json={"text": text},
            headers=self._headers,
            timeout=30.0,
        )

    def messages(self, after: int = 0) -> list[dict[str, Any]]:
        """The conversation's messages after ``after``, as the citizen's page reads them."""
        response = httpx.get(
            f"{self.api_url}/api/conversations/{self.conversation_id}/messages",
            params={"after": after},
            headers=self._headers,
            timeout=30.0,
        )
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()
        return listed

    def hand_off(self, language: str = "fr", reason: str = "requested") -> str:
        """Ask for a human the way the action server does (signed webhook); return the handoff's id."""
        body = json.dumps({"conversation_id": self.conversation_id, "language": language, "reason": reason})
        content = body.encode("utf-8")
        response = httpx.post(
            f"{self.api_url}/api/webhooks/handoff",
            content=content,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(DEFAULT_WEBHOOK_SECRET, content),
            },
            timeout=30.0,
        )
        assert response.status_code == 200, response.text
        handoff_id: str = response.json()["handoff_id"]
        return handoff_id


@dataclass(frozen=True)
class DeskServer:
    """The running API."""

    url: str
    log: Path

    def new_citizen(self, first_message: str, language: str = "fr") -> Citizen:
        """Start a conversation and send its first message (stored even though Rasa does not answer)."""
        response = httpx.post(f"{self.url}/api/conversations", json={"language": language}, timeout=30.0)
        assert response.status_code == 201, response.text
        created = response.json()
        citizen = Citizen(self.url, created["id"], created["token"])
        sent = citizen.send(first_message)
        assert sent.status_code in (200, 503), sent.text
        return citizen

    def waiting_citizen(
        self, first_message: str, language: str = "fr", reason: str = "requested"
    ) -> tuple[Citizen, str]:
        """A citizen whose conversation waits for an agent; returns it and the handoff's id."""
        citizen = self.new_citizen(first_message, language)
        return citizen, citizen.hand_off(language=language, reason=reason)


def _create_accounts(environment: dict[str, str]) -> None:
    for name, (role, password, display_name) in ACCOUNTS.items():
        subprocess.run(
            [str(PYTHON), "-m", "api.users", "create", name, "--role", role, "--display-name", display_name],
            input=password + "\n",
            text=True,
            env=environment,
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the API exited ({process.returncode}):\n{log.read_text(encoding='utf-8')[-6000:]}")
        try:
            if httpx.get(f"{url}/openapi.json", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(
        f"the API did not start in {STARTUP_TIMEOUT:.0f} s:\n{log.read_text(encoding='utf-8')[-6000:]}"
    )


@pytest.fixture(scope="session")
def desk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskServer]:
    """The API under uvicorn, on a free port, with a fresh database and three staff accounts."""
    folder = tmp_path_factory.mktemp("desk")
    port = free_port()
    environment = _environment(folder / "guichet.db", port)
    try:
        _create_accounts(environment)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"python -m api.users failed ({error.returncode}):\n{error.stdout}\n{error.stderr}")
    log = folder / "api.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PYTHON), "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(process, url, log)
            yield DeskServer(url, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    """Playwright's driver, for the whole session."""
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; never a downloaded browser."""
    executable = chromium_path()
    if not executable.exists():
        pytest.skip(f"no Chromium at {executable} (set GUICHET_CHROMIUM)")
    launched = playwright_instance.chromium.launch(
        executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(autouse=True)
def _expect_timeout() -> None:
    """Give the desk a few seconds for each live update (a loaded CI machine is slow)."""
    expect.set_options(timeout=15_000)


def report_page_error(error: PlaywrightError) -> None:
    """Print a page's uncaught exception (pytest shows it when the test fails)."""
    sys.stderr.write(f"[page error] {error}\n")


def report_console(message: ConsoleMessage) -> None:
    """Print a page's console errors and warnings (pytest shows them when the test fails)."""
    if message.type in ("error", "warning"):
        sys.stderr.write(f"[console {message.type}] {message.text}\n")


PageFactory = Callable[..., Page]
"""Makes a page: ``make(locale="fr-FR", **browser_context_options)``."""


@contextmanager
def page_factory(browser: Browser, base_url: str) -> Iterator[PageFactory]:
    """Make pages on ``base_url``, each in a browser context of its own (its own cookies and storage), all
    closed at the end. A page's console errors and uncaught exceptions are printed (pytest shows them on
    failure)."""
    contexts: list[BrowserContext] = []

    def make(locale: str = "fr-FR", **options: Any) -> Page:
        context = browser.new_context(base_url=base_url, locale=locale, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", report_page_error)
        page.on("console", report_console)
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def new_page(browser: Browser, desk_server: DeskServer) -> Iterator[PageFactory]:
    """Make pages on the desk's API, each in a browser context of its own (its cookies: one agent each)."""
    with page_factory(browser, desk_server.url) as make:
        yield make


def sign_in(page: Page, username: str, password: str | None = None) -> None:
    """Open the desk and sign in; wait until the live connection is up."""
    if password is None:
        password = ACCOUNTS[username][1]
    page.goto("/agent")
    form = page.get_by_test_id("login-form")
    expect(form).to_be_visible()
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("desk")).to_be_visible()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "live")


class FlakyLink:
    """Relays a page's WebSockets (route them with ``page.route_web_socket``); the first one can be muted
    (events lost), then cut."""

    def __init__(self) -> None:
        self.routes: list[WebSocketRoute] = []
        self.muted = False

    def handle(self, route: WebSocketRoute) -> None:
        server = route.connect_to_server()
        first = not self.routes
        self.routes.append(route)

        def to_page(message: str | bytes) -> None:
            if not (first and self.muted):
                route.send(message)

        route.on_message(server.send)
        server.on_message(to_page)
