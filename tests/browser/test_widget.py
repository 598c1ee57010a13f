"""The citizens' chat widget in Debian's headless Chromium, against the real stack (Rasa, actions, API).

The widget lives in an open shadow root; Playwright's locators pierce it. An agent, where one is needed, is a
real account (made with ``python -m api.users``) working through the agents' API, online through the desk's
socket.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect
from websockets.sync.client import connect

from tests.browser.conftest import FlakyLink, PageFactory, page_factory
from tests.stack import AGENT_PASSWORD, RunningStack, create_agent

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture
def new_page(browser: Browser, stack: RunningStack) -> Iterator[PageFactory]:
    """Make pages on the stack's API, each in a context of its own (its own sessionStorage: one citizen)."""
    with page_factory(browser, stack.api_url) as make:
        yield make


def open_widget(page: Page) -> None:
    page.goto("/")
    page.get_by_test_id("launcher").click()
    expect(page.get_by_test_id("panel")).to_be_visible()


def ask(page: Page, text: str) -> None:
    page.get_by_test_id("input").fill(text)
    page.get_by_test_id("input").press("Enter")


def messages(page: Page, author: str) -> Locator:
    return page.get_by_test_id(f"message-{author}")


def widget_state(page: Page) -> dict[str, Any]:
    """The widget's conversation, as it keeps it in sessionStorage."""
    state: dict[str, Any] = page.evaluate("() => window.GuichetWidget.instance.state")
    return state


def shown_seqs(page: Page) -> list[int]:
    seqs: list[str] = page.locator("[data-seq]").evaluate_all("items => items.map(i => i.dataset.seq)")
    return [int(seq) for seq in seqs]


def focused_widget_element(page: Page) -> str | None:
    """The ``data-testid`` (or tag) of the focused element inside the widget, None when focus is outside."""
    focused: str | None = page.evaluate(
        """() => {
            const host = document.getElementById("guichet-widget");
            if (document.activeElement !== host) return null;
            const inner = host.shadowRoot.activeElement;
            return inner ? (inner.dataset.testid || inner.className || inner.tagName) : null;
        }"""
    )
    return focused


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it is now (the widget's shadow DOM included)."""
    assert AXE.exists(), f"{AXE} is missing: run `make node`"
    # Colours are measured once the panel has finished fading in.
    page.evaluate(
        """() => Promise.all(document.getElementById("guichet-widget").shadowRoot
            .getElementById("gw-panel").getAnimations().map(a => a.finished))"""
    )
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target)}))",
        WCAG_AA,
    )
    return found


@contextmanager
def online_agent(stack: RunningStack, name: str, display_name: str) -> Iterator[httpx.Client]:
    """An agent signed in with the desk's socket open (so online); yields a client carrying their token."""
    create_agent(name, display_name)
    with httpx.Client(base_url=stack.api_url, timeout=30.0) as client:
        login = client.post("/api/auth/login", json={"username": name, "password": AGENT_PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        client.cookies.clear()
        client.headers["Authorization"] = f"Bearer {token}"
        socket_url = stack.api_url.replace("http://", "ws://") + f"/api/agent/ws?token={token}"
        with connect(socket_url, open_timeout=10) as desk:
            assert json.loads(desk.recv(timeout=10))["type"] == "hello"
            yield client


def ask_for_a_person(page: Page, agent: httpx.Client) -> str:
    """Click "talk to a person", wait until the conversation waits for an agent; return its handoff's id."""
    page.get_by_role("button", name="Parler à une personne").click()
    expect(page.get_by_test_id("status")).to_contain_text("En attente")
    return handoff_of(agent, widget_state(page)["id"])


def handoff_of(agent: httpx.Client, conversation_id: str) -> str:
    waiting = agent.get("/api/handoffs", params={"status": "waiting"})
    assert waiting.status_code == 200, waiting.text
    ids = [h["id"] for h in waiting.json() if h["conversation_id"] == conversation_id]
    assert ids, f"no waiting handoff for {conversation_id}: {waiting.json()}"
    return str(ids[0])


# --- the demo page and the panel ----------------------------------------------------------------------


def test_the_demo_page_embeds_the_widget_with_a_privacy_notice_before_the_first_message(
    new_page: PageFactory,
) -> None:
    page = new_page()
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clairval")
    launcher = page.get_by_test_id("launcher")
    expect(launcher).to_have_text("Une question ?")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_test_id("panel")).to_be_hidden()

    launcher.click()
    panel = page.get_by_role("dialog", name="Assistant de la mairie")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("launcher")).to_be_hidden()
    # Focus goes to the message box on opening, and the notice says what is kept, for how long.
    assert focused_widget_element(page) == "input"
    expect(page.get_by_test_id("privacy-notice")).to_contain_text("effacés après 90 jours sans activité")
    expect(page.get_by_test_id("suggestions").get_by_role("button")).to_have_count(3)
    assert widget_state(page)["id"] is None, "no conversation before the first message"

    page.keyboard.press("Escape")
    expect(page.get_by_test_id("panel")).to_be_hidden()
    assert focused_widget_element(page) == "launcher"
    expect(page.get_by_test_id("launcher")).to_have_attribute("aria-expanded", "false")


def test_a_french_question_is_answered_with_the_official_procedure_link_and_a_typing_indicator(
    new_page: PageFactory, stack: RunningStack
) -> None:
    page = new_page()
    held: list[Route] = []
    page.route(re.compile(r".*/api/conversations/[^/]+/messages$"), lambda route: held.append(route))
    open_widget(page)
    ask(page, "comment renouveler mon passeport ?")

    # While the bot works the citizen sees their message and the typing indicator.
    expect(messages(page, "citizen").or_(page.locator(".pending"))).to_contain_text(
        "comment renouveler mon passeport ?"
    )
    expect(page.get_by_test_id("typing")).to_be_visible()
    expect(page.get_by_test_id("typing")).to_contain_text("L'assistant écrit")
    for _ in range(100):  # the held request reaches the test
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the message was never sent"
    held[0].continue_()

    answer = messages(page, "bot").first
    expect(answer).to_contain_text("ANTS")
    expect(page.get_by_test_id("typing")).to_be_hidden()
    expect(answer).to_have_attribute("lang", "fr")
    official = answer.get_by_role("link", name=re.compile("Démarche en ligne : .*passeport"))
    expect(official).to_have_attribute("href", "https://passeport.ants.gouv.fr/")
    expect(official).to_have_attribute("target", "_blank")
    expect(official).to_have_attribute("rel", "noopener noreferrer")
    # The citizen's message is the stored one (numbered), shown once.
    expect(messages(page, "citizen")).to_have_count(1)
    expect(page.locator(".pending")).to_have_count(0)
    seqs = shown_seqs(page)
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) >= 2


def test_the_language_switch_turns_the_widget_and_the_bot_to_english(new_page: PageFactory) -> None:
    page = new_page()
    open_widget(page)
    page.get_by_role("button", name="Switch to English").click()
    expect(page.get_by_role("dialog", name="Town hall assistant")).to_be_visible()
    expect(page.get_by_role("textbox", name="Your message")).to_be_visible()
    expect(page.get_by_test_id("privacy-notice")).to_contain_text("deleted after 90 days without activity")
    expect(page.get_by_test_id("panel")).to_have_attribute("lang", "en")

    ask(page, "How do I renew my passport?")
    answer = messages(page, "bot").first
    expect(answer).to_contain_text("passport")
    expect(answer).to_have_attribute("lang", "en")
    expect(answer.get_by_role("link", name=re.compile("Online procedure: "))).to_be_visible()

    # Back to French mid-conversation: the conversation's language follows (the API says so).
    page.get_by_role("button", name="Passer en français").click()
    expect(page.get_by_role("textbox", name="Votre message")).to_be_visible()
    state = widget_state(page)
    page.wait_for_function("() => window.GuichetWidget.instance.language === 'fr'")
    ask(page, "Merci !")
    expect(messages(page, "bot").last).to_have_attribute("lang", "fr")
    assert state["id"] == widget_state(page)["id"]


def test_a_quick_reply_sends_its_payload_and_shows_its_title(new_page: PageFactory) -> None:
    page = new_page()
    open_widget(page)
    ask(page, "comment renouveler mon passeport ?")
    replies = page.get_by_test_id("quick-replies").last
    expect(replies.get_by_role("button", name="Oui, merci")).to_be_visible()
    replies.get_by_role("button", name="Oui, merci").click()

    # The stored message is the payload; the widget shows the button's title, and the bot takes it.
    expect(messages(page, "citizen").last).to_have_text(re.compile("Oui, merci"))
    expect(messages(page, "citizen").last).not_to_contain_text("/affirm")
    expect(messages(page, "bot").last).to_contain_text("Merci")
    # An answered question's buttons are not offered again.
    expect(page.get_by_role("button", name="Oui, merci")).to_have_count(0)


def test_a_reload_shows_the_same_conversation_once_and_it_goes_on(new_page: PageFactory) -> None:
    page = new_page()
    open_widget(page)
    ask(page, "Quand passe le ramassage des poubelles ?")
    expect(messages(page, "bot").first).to_be_visible()
    page.wait_for_timeout(500)
    before = shown_seqs(page)
    texts = page.locator("[data-seq] .bubble").all_inner_texts()
    conversation = widget_state(page)["id"]

    page.reload()
    expect(page.get_by_test_id("panel")).to_be_visible()  # it was open: it stays open
    expect(page.locator("[data-seq]")).to_have_count(len(before))
    assert shown_seqs(page) == before
    assert page.locator("[data-seq] .bubble").all_inner_texts() == texts
    assert widget_state(page)["id"] == conversation

    ask(page, "Et pour les encombrants ?")
    expect(page.locator("[data-seq]")).not_to_have_count(len(before))
    expect(messages(page, "citizen")).to_have_count(2)
    seqs = shown_seqs(page)
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)
    assert widget_state(page)["id"] == conversation


# --- people -------------------------------------------------------------------------------------------


def test_talking_to_a_person_shows_the_queue_then_the_agent_live_then_the_bot_again(
    new_page: PageFactory, stack: RunningStack
) -> None:
    page = new_page()
    with online_agent(stack, "widget-agent", "Lucie") as agent:
        open_widget(page)
        page.get_by_role("button", name="Parler à une personne").click()
        status = page.get_by_test_id("status")
        expect(status).to_contain_text("En attente d'un agent")
        expect(status).to_contain_text(re.compile(r"n° \d+ dans la file"))
        expect(page.get_by_role("button", name="Parler à une personne")).to_be_hidden()
        # The stored payload is shown as the action's title.
        expect(messages(page, "citizen").first).to_have_text(re.compile("Parler à une personne"))
        expect(page.get_by_test_id("log")).not_to_contain_text("null")
        expect(page.get_by_test_id("log")).not_to_contain_text("undefined")

        handoff = handoff_of(agent, widget_state(page)["id"])
        assert agent.post(f"/api/handoffs/{handoff}/claim").is_success
        expect(messages(page, "system").last).to_contain_text("Lucie")
        expect(status).to_contain_text("Vous échangez avec un agent")

        reply = "Bonjour, je suis Lucie. <b>Que</b> puis-je faire ?"
        assert agent.post(f"/api/handoffs/{handoff}/messages", json={"text": reply}).is_success
        pushed = messages(page, "agent").last
        expect(pushed).to_contain_text(reply)  # the markup is text, never HTML
        expect(pushed.locator("b")).to_have_count(0)
        expect(page.get_by_test_id("announcer")).to_contain_text(reply)

        ask(page, "Mon passeport est perdu.")
        expect(messages(page, "citizen").last).to_contain_text("Mon passeport est perdu.")
        expect(page.get_by_test_id("typing")).to_be_hidden()

        closed = agent.post(f"/api/handoffs/{handoff}/close", json={"resume_bot": True})
        assert closed.status_code == 200, closed.text
        expect(status).to_contain_text("Réponses automatiques")
        expect(page.get_by_role("button", name="Parler à une personne")).to_be_visible()


def test_after_a_network_drop_the_widget_reconnects_without_losing_or_repeating_messages(
    new_page: PageFactory, stack: RunningStack
) -> None:
    page = new_page()
    link = FlakyLink()
    page.route_web_socket(re.compile(r".*/api/conversations/.*/ws.*"), link.handle)
    with online_agent(stack, "widget-agent-2", "Hugo") as agent:
        open_widget(page)
        handoff = ask_for_a_person(page, agent)
        assert agent.post(f"/api/handoffs/{handoff}/claim").is_success
        expect(messages(page, "system").last).to_contain_text("Hugo")

        # What the server pushes now is lost on the way, then the connection drops.
        link.muted = True
        for text in ("Premier message perdu en route", "Second message perdu en route"):
            assert agent.post(f"/api/handoffs/{handoff}/messages", json={"text": text}).is_success
        page.wait_for_timeout(300)
        expect(messages(page, "agent")).to_have_count(0)
        link.routes[0].close(code=1011, reason="network trouble")

        expect(messages(page, "agent")).to_have_count(2)
        assert len(link.routes) >= 2
        seqs = shown_seqs(page)
        assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        # Live again: the next message comes through the new connection.
        assert agent.post(f"/api/handoffs/{handoff}/messages", json={"text": "Vous m'entendez ?"}).is_success
        expect(messages(page, "agent")).to_have_count(3)
        agent.post(f"/api/handoffs/{handoff}/close", json={"resume_bot": True})


# --- keyboard, accessibility, safety ----------------------------------------------------------------


def test_the_widget_is_usable_with_the_keyboard_alone(new_page: PageFactory) -> None:
    page = new_page()
    page.goto("/")
    for _ in range(30):
        if focused_widget_element(page) == "launcher":
            break
        page.keyboard.press("Tab")
    assert focused_widget_element(page) == "launcher", "Tab never reaches the launcher"
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("panel")).to_be_visible()
    assert focused_widget_element(page) == "input"

    page.keyboard.type("comment renouveler mon passeport ?")
    page.keyboard.press("Enter")
    expect(messages(page, "bot").last.get_by_role("button", name="Non")).to_be_visible()
    assert focused_widget_element(page) == "input", "focus stays in the message box after sending"

    # Backwards from the message box: "talk to a person", then the last quick reply.
    page.keyboard.press("Shift+Tab")
    assert focused_widget_element(page) == "talk-to-person"
    page.keyboard.press("Shift+Tab")
    assert focused_widget_element(page) == "quick-reply"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # "Oui, merci"
    expect(messages(page, "citizen").last).to_have_text(re.compile("Oui, merci"))

    page.keyboard.press("Escape")
    expect(page.get_by_test_id("panel")).to_be_hidden()
    assert focused_widget_element(page) == "launcher"
    page.keyboard.press("Space")
    expect(page.get_by_test_id("panel")).to_be_visible()


def test_axe_core_finds_no_wcag_aa_violation_in_any_state(new_page: PageFactory, stack: RunningStack) -> None:
    # axe-core is injected as an inline script, which the page's policy forbids: bypass it for the check.
    page = new_page(bypass_csp=True)
    page.goto("/")
    page.wait_for_function("() => document.getElementById('guichet-widget')?.dataset.ready === 'true'")
    assert axe_violations(page) == [], "closed"
    page.get_by_test_id("launcher").click()
    expect(page.get_by_test_id("privacy-notice")).to_contain_text("90")
    assert axe_violations(page) == [], "open, before the first message"
    ask(page, "comment renouveler mon passeport ?")
    expect(page.get_by_test_id("quick-replies").last).to_be_visible()
    assert axe_violations(page) == [], "with an answer, a link and quick replies"
    with online_agent(stack, "widget-agent-3", "Inès") as agent:
        handoff = ask_for_a_person(page, agent)
        agent.post(f"/api/handoffs/{handoff}/claim")
        agent.post(
            f"/api/handoffs/{handoff}/messages",
            json={"text": "Bonjour, voici https://www.service-public.fr."},
        )
        expect(messages(page, "agent")).to_have_count(1)
        assert axe_violations(page) == [], "with an agent"
        agent.post(f"/api/handoffs/{handoff}/close", json={"resume_bot": True})
    page.get_by_role("button", name="Switch to English").click()
    assert axe_violations(page) == [], "in English"
    page.set_viewport_size({"width": 375, "height": 700})
    assert axe_violations(page) == [], "on a small screen"


def test_reduced_motion_turns_the_animations_off(new_page: PageFactory) -> None:
    page = new_page(reduced_motion="reduce")
    open_widget(page)
    animation = page.get_by_test_id("panel").evaluate("panel => getComputedStyle(panel).animationName")
    assert animation == "none"
    moving = new_page()
    open_widget(moving)
    assert moving.get_by_test_id("panel").evaluate("panel => getComputedStyle(panel).animationName") != "none"


def test_agent_text_is_never_markup_and_only_http_links_are_made(
    new_page: PageFactory, stack: RunningStack
) -> None:
    page = new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
    with online_agent(stack, "widget-agent-4", "Noé") as agent:
        open_widget(page)
        handoff = ask_for_a_person(page, agent)
        agent.post(f"/api/handoffs/{handoff}/claim")
        for text in (
            '<img src="x" onerror="alert(1)">',
            "[Cliquez ici](javascript:alert(2)) ou [le site](https://www.service-public.fr/particuliers)",
            "<script>alert(3)</script> **important**",
        ):
            assert agent.post(f"/api/handoffs/{handoff}/messages", json={"text": text}).is_success
        agent_messages = messages(page, "agent")
        expect(agent_messages).to_have_count(3)
        expect(agent_messages.nth(0)).to_contain_text('<img src="x" onerror="alert(1)">')
        expect(page.locator("img")).to_have_count(0)
        links = agent_messages.nth(1).get_by_role("link")
        expect(links).to_have_count(1)
        expect(links).to_have_attribute("href", "https://www.service-public.fr/particuliers")
        expect(agent_messages.nth(1)).to_contain_text("Cliquez ici")
        expect(agent_messages.nth(2)).to_contain_text("<script>alert(3)</script>")
        expect(agent_messages.nth(2).locator("strong")).to_have_text("important")
        agent.post(f"/api/handoffs/{handoff}/close", json={"resume_bot": True})


# --- embedding ------------------------------------------------------------------------------------------


@contextmanager
def serve_page(html: str) -> Iterator[str]:
    """Serve one page from another origin than the API's (another port on loopback, as Chromium lets a
    loopback page call loopback); yield its address."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_one_script_tag_embeds_the_widget_on_another_site_with_its_options(
    new_page: PageFactory, stack: RunningStack
) -> None:
    """A commune's own site, on another origin, with the language and colours it chose."""
    page = new_page(locale="en-GB")
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Commune</title>"
        f"<script src='{stack.api_url}/widget.js' defer data-language='en'"
        " data-primary-color='#ffd700' data-title='Clairval help desk'></script>"
        "</head><body><main><h1>Our commune</h1></main></body></html>"
    )
    with serve_page(html) as site:
        page.goto(f"{site}/")
        launcher = page.get_by_test_id("launcher")
        expect(launcher).to_have_text("Any questions?")
        # A light colour gets dark text, so the launcher stays readable.
        assert launcher.evaluate("b => getComputedStyle(b).color") == "rgb(22, 22, 22)"
        assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(255, 215, 0)"
        launcher.click()
        expect(page.get_by_role("dialog", name="Clairval help desk")).to_be_visible()
        ask(page, "How do I register to vote?")
        expect(messages(page, "bot").first).to_contain_text("register")
        assert widget_state(page)["id"]


# --- nothing lost, nothing twice ---------------------------------------------------------------------


def stored_citizen_texts(page: Page, stack: RunningStack) -> list[str]:
    """The citizen's messages as the API stored them."""
    state = widget_state(page)
    listed = httpx.get(
        f"{stack.api_url}/api/conversations/{state['id']}/messages",
        headers={"Authorization": f"Bearer {state['token']}"},
        timeout=30.0,
    )
    assert listed.status_code == 200, listed.text
    return [m["text"] for m in listed.json() if m["author"] == "citizen"]


MESSAGE_POST = re.compile(r".*/api/conversations/[^/]+/messages$")


def test_a_message_whose_answer_was_lost_on_the_way_is_not_sent_twice(
    new_page: PageFactory, stack: RunningStack
) -> None:
    page = new_page()
    open_widget(page)
    ask(page, "Bonjour")
    expect(messages(page, "bot").first).to_be_visible()

    def reach_the_server_then_lose_the_answer(route: Route) -> None:
        route.fetch()  # the API stores the message and the bot answers...
        route.abort("connectionreset")  # ...but the answer never reaches the page

    page.route(MESSAGE_POST, reach_the_server_then_lose_the_answer, times=1)
    ask(page, "comment renouveler mon passeport ?")
    # The widget reads the conversation to find out: the message is there, so it is not sent again.
    expect(messages(page, "citizen")).to_have_count(2)
    expect(page.locator(".pending")).to_have_count(0)
    expect(messages(page, "bot").filter(has_text="ANTS")).to_have_count(1)
    page.wait_for_timeout(2000)
    assert stored_citizen_texts(page, stack) == ["Bonjour", "comment renouveler mon passeport ?"]


def test_a_message_that_never_left_is_kept_and_sent_when_asked_again(
    new_page: PageFactory, stack: RunningStack
) -> None:
    page = new_page()
    open_widget(page)
    ask(page, "Bonjour")
    expect(messages(page, "bot").first).to_be_visible()
    page.route(re.compile(r".*/api/conversations/.*"), lambda route: route.abort("internetdisconnected"))

    ask(page, "Quand passe le ramassage des poubelles ?")
    pending = page.locator(".pending")
    expect(pending).to_have_attribute("data-state", "failed")
    expect(pending).to_contain_text("Non envoyé")
    expect(page.get_by_test_id("notice")).to_contain_text("n'a pas pu être envoyé")

    page.unroute(re.compile(r".*/api/conversations/.*"))
    pending.get_by_role("button", name="Réessayer").click()
    expect(page.locator(".pending")).to_have_count(0)
    expect(messages(page, "citizen").last).to_have_text(re.compile("Quand passe le ramassage"))
    expect(messages(page, "bot")).not_to_have_count(1)
    assert stored_citizen_texts(page, stack) == ["Bonjour", "Quand passe le ramassage des poubelles ?"]


def test_messages_arriving_while_the_panel_is_closed_are_counted_once(
    new_page: PageFactory, stack: RunningStack
) -> None:
    page = new_page()
    with online_agent(stack, "widget-agent-5", "Zoé") as agent:
        open_widget(page)
        handoff = ask_for_a_person(page, agent)
        page.get_by_test_id("close").click()
        assert focused_widget_element(page) == "launcher"

        assert agent.post(f"/api/handoffs/{handoff}/claim").is_success  # "Zoé has joined": one
        assert agent.post(f"/api/handoffs/{handoff}/messages", json={"text": "Bonjour !"}).is_success
        launcher = page.get_by_test_id("launcher")
        expect(page.get_by_test_id("unread")).to_have_text("2")
        expect(launcher).to_have_accessible_name(re.compile(r"Une question \? \(2 nouveaux messages\)"))
        # A reload shows the history again, but it is not new: the count stays, nothing is announced again.
        page.reload()
        expect(page.get_by_test_id("unread")).to_have_text("2")
        page.wait_for_timeout(500)
        expect(page.get_by_test_id("announcer")).to_have_text("")
        launcher.click()
        expect(page.get_by_test_id("unread")).to_be_hidden()
        expect(messages(page, "agent")).to_have_count(1)
        page.reload()
        expect(page.get_by_test_id("panel")).to_be_visible()
        expect(page.get_by_test_id("unread")).to_be_hidden()
        agent.post(f"/api/handoffs/{handoff}/close", json={"resume_bot": True})
