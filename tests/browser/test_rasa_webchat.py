"""Rasa's own socket.io channel with the ``rasa-webchat`` widget (npm, 1.0.1) in headless Chromium.

The stack is the real one (Rasa, action server, API) of ``tests/stack.py``. The channel is
``bot.channels.GuichetSocketIOInput`` with ``session_persistence: true``: the widget keeps its session id in
``sessionStorage`` and Rasa sends the bot's replies to the socket.io room of that session, which the client
must have joined (RasaHQ/rasa#13027, ADR 0011). With Rasa's stock ``socketio`` channel no reply arrives.

The widget's standalone bundle (``node_modules/rasa-webchat/lib/index.js``, installed by ``make node``) is
mounted on a small page that Playwright serves itself under Rasa's own origin, as if one reverse proxy served
both: a page on another origin would need Rasa run with ``--cors`` (socket.io starts with HTTP long-polling),
and Chromium's local network access checks keep a public origin from reaching 127.0.0.1 at all. A page served
by Playwright has no address of its own, so the browser context is granted ``local-network-access`` to let
socket.io upgrade to a WebSocket, as it does in production.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Route,
    WebSocket,
    expect,
)
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.test_conversation import ENTRIES
from tests.stack import RunningStack

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
WEBCHAT_BUNDLE = REPO_ROOT / "node_modules" / "rasa-webchat" / "lib" / "index.js"

#: Where the test page lives, under Rasa's origin (Rasa itself has no such route: Playwright answers).
PAGE_PATH = "/rasa-webchat-test/"
#: The widget's key in ``sessionStorage`` (``params.storage: "session"``).
STORAGE_KEY = "chat_session"
GREETING = '/greet{"language":"fr"}'
QUESTION = "comment renouveler mon passeport ?"
FOLLOW_UP = "et ça coûte combien ?"
#: The bot runs a model and searches the knowledge base before it answers.
ANSWER_TIMEOUT = 30_000

PAGE = """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>rasa-webchat</title></head>
<body>
<div id="webchat"></div>
<script src="webchat.js"></script>
<script>
  WebChat.default(
    {
      socketUrl: %(socket_url)s,
      socketPath: "/socket.io/",
      initPayload: %(init_payload)s,
      customData: {language: "fr"},
      params: {storage: "session"},
      title: "Mairie de Clairval",
      subtitle: "Assistant virtuel",
      inputTextFieldHint: "Votre question",
      showMessageDate: false,
    },
    document.getElementById("webchat"),
  );
</script>
</body>
</html>
"""


def _serve(route: Route) -> None:
    """Answers the test page and the widget's bundle; anything else under the page's path is a 404."""
    name = route.request.url.split(PAGE_PATH, 1)[1].split("?", 1)[0]
    if name == "":
        socket_url = route.request.url.split(PAGE_PATH, 1)[0]
        html = PAGE % {"socket_url": json.dumps(socket_url), "init_payload": json.dumps(GREETING)}
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
    elif name == "webchat.js":
        route.fulfill(status=200, content_type="text/javascript; charset=utf-8", path=WEBCHAT_BUNDLE)
    else:
        route.fulfill(status=404, body="not found")


def _no_web_font(route: Route) -> None:
    """The widget's stylesheet imports a Google font; the tests run offline."""
    route.fulfill(status=200, content_type="text/css", body="")


def _report_console(message: ConsoleMessage) -> None:
    if message.type in ("error", "warning"):
        sys.stderr.write(f"[console {message.type}] {message.text}\n")


def _report_page_error(error: PlaywrightError) -> None:
    sys.stderr.write(f"[page error] {error}\n")


class SocketFrames:
    """The text frames a page receives over WebSockets (socket.io packets, ``42["bot_uttered",…]``)."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def watch(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._keep)

    def _keep(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            self.received.append(payload)

    def events(self, name: str) -> list[str]:
        """The frames carrying the socket.io event ``name``."""
        return [frame for frame in self.received if frame.startswith(f'42["{name}"')]


@pytest.fixture
def frames() -> SocketFrames:
    return SocketFrames()


def new_tab(context: BrowserContext, rasa_url: str, frames: SocketFrames) -> Page:
    """A tab of ``context`` (its own ``sessionStorage``) on the test page, the widget mounted but closed."""
    page = context.new_page()
    page.on("console", _report_console)
    page.on("pageerror", _report_page_error)
    page.on("websocket", frames.watch)
    page.route(f"{rasa_url}{PAGE_PATH}**", _serve)
    page.route("https://fonts.googleapis.com/**", _no_web_font)
    page.goto(f"{rasa_url}{PAGE_PATH}")
    return page


@pytest.fixture
def webchat(browser: Browser, stack: RunningStack, frames: SocketFrames) -> Iterator[Page]:
    """A tab on the test page, in a browser context of its own, closed after the test."""
    if not WEBCHAT_BUNDLE.is_file():
        pytest.fail(f"{WEBCHAT_BUNDLE.relative_to(REPO_ROOT)} is missing: run `make node` (npm ci)")
    context = browser.new_context(locale="fr-FR", permissions=["local-network-access"])
    try:
        yield new_tab(context, stack.settings.rasa_url, frames)
    finally:
        context.close()


def open_chat(page: Page) -> None:
    """Opens the widget with its launcher, unless it is open already."""
    expect(page.locator(".rw-launcher")).to_be_visible()
    if page.locator(".rw-conversation-container").count() == 0:
        page.locator(".rw-launcher").click()
    expect(page.locator(".rw-conversation-container")).to_be_visible()


def send(page: Page, text: str) -> None:
    field = page.locator(".rw-new-message")
    field.fill(text)
    field.press("Enter")
    expect(page.locator(".rw-client").filter(has_text=text)).to_have_count(1)


def bot_says(page: Page, text: str) -> Locator:
    return page.locator(".rw-response").filter(has_text=text)


def stored_session(page: Page) -> dict[str, Any]:
    stored = page.evaluate(f"() => sessionStorage.getItem({json.dumps(STORAGE_KEY)})")
    assert stored, f"the widget stored no {STORAGE_KEY!r} in sessionStorage"
    session: dict[str, Any] = json.loads(stored)
    return session


def user_messages(stack: RunningStack, session_id: str) -> list[str]:
    """What Rasa's tracker store holds as the user's messages in a conversation, oldest first."""
    with sqlite3.connect(stack.var_dir / "rasa-tracker.db") as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (session_id,)
        ).fetchall()
    return [json.loads(data)["text"] for (data,) in rows]


def test_the_widget_is_answered_and_its_session_survives_a_reload(
    webchat: Page, stack: RunningStack, frames: SocketFrames
) -> None:
    passport = ENTRIES["passport"].fr
    assert passport is not None and passport.cost is not None
    page = webchat
    open_chat(page)
    # The init payload is the session's first message: its answer is sent to the session's room.
    expect(bot_says(page, "assistant virtuel de la mairie de Clairval")).to_be_visible(timeout=ANSWER_TIMEOUT)
    session_id = stored_session(page)["session_id"]
    assert session_id

    send(page, QUESTION)
    expect(bot_says(page, "site de l'ANTS")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(bot_says(page, "timbre fiscal").first).to_be_visible()

    # A reload keeps the session: the same id, the history shown again (from sessionStorage)...
    page.reload()
    open_chat(page)
    expect(page.locator(".rw-client").filter(has_text=QUESTION)).to_have_count(1)
    expect(bot_says(page, "site de l'ANTS")).to_be_visible()
    assert stored_session(page)["session_id"] == session_id

    # ...and the same Rasa conversation: a follow-up is answered about the passport discussed before the
    # reload (a new conversation would ask "Pour quelle démarche ?").
    send(page, FOLLOW_UP)
    expect(bot_says(page, passport.cost)).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(bot_says(page, "assistant virtuel")).to_have_count(1)  # no second greeting
    assert user_messages(stack, session_id) == [GREETING, QUESTION, FOLLOW_UP]
    # The replies came over WebSockets, the transport browsers use, not only long-polling.
    assert frames.events("bot_uttered"), f"no bot_uttered over a WebSocket: {frames.received[:10]}"


def test_each_tab_is_its_own_session_and_gets_only_its_own_replies(
    webchat: Page, stack: RunningStack, frames: SocketFrames
) -> None:
    first = webchat
    open_chat(first)
    expect(bot_says(first, "assistant virtuel")).to_be_visible(timeout=ANSWER_TIMEOUT)
    # Another tab of the same browser: the same origin, but a sessionStorage and a session of its own.
    second = new_tab(first.context, stack.settings.rasa_url, frames)
    open_chat(second)
    expect(bot_says(second, "assistant virtuel")).to_be_visible(timeout=ANSWER_TIMEOUT)
    assert stored_session(first)["session_id"] != stored_session(second)["session_id"]

    send(first, QUESTION)
    expect(bot_says(first, "site de l'ANTS")).to_be_visible(timeout=ANSWER_TIMEOUT)
    send(second, "merci")
    expect(bot_says(second, "Avec plaisir")).to_be_visible(timeout=ANSWER_TIMEOUT)
    # Each reply went to its session's room only.
    expect(bot_says(second, "site de l'ANTS")).to_have_count(0)
    expect(bot_says(first, "Avec plaisir")).to_have_count(0)
