"""The agents' desk in headless Chromium against the real API: sign-in, live queue, claim, reply, history.

Each test makes its own conversations and finds them by handoff id: the database is shared by the session.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from tests.browser.conftest import ACCOUNTS, DeskServer, FlakyLink, PageFactory, sign_in

pytestmark = pytest.mark.browser

XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def unique(word: str) -> str:
    """A word no other test writes, to find one conversation in the history."""
    return f"{word}{uuid.uuid4().hex[:10]}"


def queue_item(page: Page, handoff_id: str) -> Locator:
    return page.locator(f'[data-testid="queue-item"][data-handoff-id="{handoff_id}"]')


def active_item(page: Page, handoff_id: str) -> Locator:
    return page.locator(f'[data-testid="active-item"][data-handoff-id="{handoff_id}"]')


def transcript_message(page: Page, author: str, text: str) -> Locator:
    return (
        page.get_by_test_id("transcript")
        .locator(f'[data-testid="message"][data-author="{author}"]')
        .filter(has_text=text)
    )


def claim(page: Page, handoff_id: str) -> None:
    """Claim a waiting conversation from the queue; wait until its reply box is ready."""
    item = queue_item(page, handoff_id)
    expect(item).to_be_visible()
    item.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("conversation")).to_have_attribute("data-handoff-id", handoff_id)
    expect(page.get_by_test_id("reply-input")).to_be_visible()
    expect(page.get_by_test_id("reply-input")).to_be_focused()


def test_wrong_password_shows_an_error_then_signing_in_works(new_page: PageFactory) -> None:
    page = new_page()
    page.goto("/agent")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")

    page.get_by_test_id("login-username").fill("agent1")
    page.get_by_test_id("login-password").fill("not the password")
    page.get_by_test_id("login-submit").click()
    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    expect(error).to_have_text("Identifiant ou mot de passe incorrect.")
    expect(page.get_by_test_id("desk")).to_be_hidden()

    page.get_by_test_id("login-password").fill(ACCOUNTS["agent1"][1])
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("desk")).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_contain_text("Marie Dupont")
    expect(page.get_by_test_id("login-error")).to_be_hidden()

    # The session cookie keeps the agent signed in across a reload; signing out goes back to the form.
    page.reload()
    expect(page.get_by_test_id("desk")).to_be_visible()
    page.get_by_test_id("logout-button").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("login-form")).to_be_visible()


def test_an_account_without_the_agent_role_is_refused(new_page: PageFactory) -> None:
    page = new_page()
    page.goto("/agent")
    page.get_by_test_id("login-username").fill("editor1")
    page.get_by_test_id("login-password").fill(ACCOUNTS["editor1"][1])
    page.get_by_test_id("login-submit").click()
    # Either the API refuses the sign-in (403) or the desk refuses the role it reports.
    refusal = page.locator('[data-testid="login-error"]:visible, [data-testid="role-denied"]:visible')
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("bureau des agents")
    expect(page.get_by_test_id("desk")).to_be_hidden()


def test_the_interface_language_switch_is_remembered(new_page: PageFactory) -> None:
    page = new_page()
    page.goto("/agent")
    expect(page.get_by_test_id("login-submit")).to_have_text("Se connecter")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("login-submit")).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()
    expect(page.get_by_test_id("login-submit")).to_have_text("Sign in")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("login-submit")).to_have_text("Se connecter")


def test_a_new_waiting_conversation_appears_live_and_the_agent_answers_it(
    new_page: PageFactory, desk_server: DeskServer
) -> None:
    page = new_page()
    sign_in(page, "agent1")
    first = unique("Je voudrais parler à quelqu'un pour mon passeport ")

    # Made after the desk is open: it must arrive over the WebSocket, without a reload.
    citizen, handoff_id = desk_server.waiting_citizen(first)
    item = queue_item(page, handoff_id)
    expect(item).to_be_visible()
    expect(item).to_contain_text("a demandé une personne")
    expect(item).to_contain_text("FR")
    expect(item.get_by_test_id("preview")).to_contain_text(first)
    expect(item.get_by_test_id("waiting-time")).to_contain_text("attend depuis")
    expect(page).to_have_title(re.compile(r"^\(\d+\) Guichet"))
    expect(page.get_by_test_id("announcer")).to_contain_text("Nouvelle conversation en attente")

    claim(page, handoff_id)
    expect(queue_item(page, handoff_id)).to_have_count(0)
    expect(active_item(page, handoff_id)).to_be_visible()
    expect(transcript_message(page, "citizen", first)).to_be_visible()

    reply = "Bonjour, je suis Marie, de la mairie. Je regarde votre dossier."
    page.get_by_test_id("reply-input").fill(reply)
    page.get_by_test_id("reply-input").press("Enter")
    expect(transcript_message(page, "agent", reply)).to_have_count(1)
    expect(page.get_by_test_id("reply-input")).to_have_value("")

    # Shift+Enter makes a new line instead of sending.
    page.get_by_test_id("reply-input").press_sequentially("Première ligne")
    page.get_by_test_id("reply-input").press("Shift+Enter")
    page.get_by_test_id("reply-input").press_sequentially("deuxième ligne")
    expect(page.get_by_test_id("reply-input")).to_have_value("Première ligne\ndeuxième ligne")
    page.get_by_test_id("send-button").click()
    expect(transcript_message(page, "agent", "deuxième ligne")).to_have_count(1)

    texts = [(message["author"], message["text"]) for message in citizen.messages()]
    assert ("agent", reply) in texts
    assert ("agent", "Première ligne\ndeuxième ligne") in texts


def test_a_citizen_message_appears_live_in_the_open_conversation(
    new_page: PageFactory, desk_server: DeskServer
) -> None:
    page = new_page()
    sign_in(page, "agent1")
    citizen, handoff_id = desk_server.waiting_citizen("Bonjour, un humain s'il vous plaît.")
    claim(page, handoff_id)

    later = unique("Je suis toujours là, c'est pour une carte d'identité ")
    sent = citizen.send(later)
    assert sent.status_code == 200, sent.text
    expect(transcript_message(page, "citizen", later)).to_have_count(1)

    # Messages are ordered by seq and shown once each.
    seqs = [
        int(seq)
        for seq in page.get_by_test_id("transcript")
        .locator('[data-testid="message"]')
        .evaluate_all("nodes => nodes.map(node => node.dataset.seq)")
    ]
    assert seqs == sorted(seqs)
    assert len(seqs) == len(set(seqs))


def test_markup_from_a_citizen_is_shown_as_text(new_page: PageFactory, desk_server: DeskServer) -> None:
    page = new_page()
    sign_in(page, "agent1")
    citizen, handoff_id = desk_server.waiting_citizen(XSS)

    item = queue_item(page, handoff_id)
    expect(item.get_by_test_id("preview")).to_contain_text("<script>window.__pwned=1</script>")
    claim(page, handoff_id)
    assert citizen.send(XSS + " (encore)").status_code == 200
    shown = transcript_message(page, "citizen", "(encore)")
    expect(shown).to_have_count(1)
    expect(shown.get_by_test_id("message-text")).to_have_text(XSS + " (encore)")
    expect(transcript_message(page, "citizen", XSS)).to_have_count(2)

    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0


def test_closing_hands_back_to_the_assistant_and_files_it_in_the_history(
    new_page: PageFactory, desk_server: DeskServer
) -> None:
    page = new_page()
    sign_in(page, "agent1")
    word = unique("acte")
    citizen, handoff_id = desk_server.waiting_citizen(
        f"Il me faut un {word} de naissance, je veux parler à un agent."
    )
    claim(page, handoff_id)
    page.get_by_test_id("reply-input").fill("Je vous l'envoie par courrier. Bonne journée !")
    page.get_by_test_id("send-button").click()
    expect(transcript_message(page, "agent", "Bonne journée")).to_have_count(1)

    expect(page.get_by_test_id("resume-bot-checkbox")).to_be_checked()
    page.get_by_test_id("close-button").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Conversation close")
    expect(active_item(page, handoff_id)).to_have_count(0)
    expect(queue_item(page, handoff_id)).to_have_count(0)

    page.get_by_test_id("tab-history").click()
    page.get_by_test_id("history-search").fill(word)
    page.get_by_test_id("history-search").press("Enter")
    found = page.locator(f'[data-testid="history-item"][data-handoff-id="{handoff_id}"]')
    expect(found).to_be_visible()
    expect(page.get_by_test_id("history-list").get_by_test_id("history-item")).to_have_count(1)

    found.get_by_test_id("open-button").click()
    expect(page.get_by_test_id("conversation")).to_have_attribute("data-status", "closed")
    expect(transcript_message(page, "citizen", word)).to_be_visible()
    expect(page.get_by_test_id("reply-input")).to_be_hidden()
    expect(page.get_by_test_id("close-button")).to_be_hidden()

    # The citizen is back with the assistant: a new message goes to the bot (here, to the absent Rasa: 503).
    assert citizen.send("Merci !").status_code == 503


def _hold_back_claims(route: WebSocketRoute) -> None:
    """Relay the desk's WebSocket, minus the news that a conversation was claimed (a desk a moment behind)."""
    server = route.connect_to_server()

    def to_page(message: str | bytes) -> None:
        if isinstance(message, str):
            event = json.loads(message)
            if event.get("type") == "handoff" and event.get("event") == "claimed":
                return
        route.send(message)

    route.on_message(server.send)
    server.on_message(to_page)


def test_the_second_agent_to_claim_is_told_the_conversation_is_taken(
    new_page: PageFactory, desk_server: DeskServer
) -> None:
    first, second = new_page(), new_page()
    second.route_web_socket(re.compile(r".*/api/agent/ws.*"), _hold_back_claims)
    sign_in(first, "agent1")
    sign_in(second, "agent2")
    _, handoff_id = desk_server.waiting_citizen("Je veux parler à une personne.")
    expect(queue_item(first, handoff_id)).to_be_visible()
    expect(queue_item(second, handoff_id)).to_be_visible()

    claim(first, handoff_id)
    queue_item(second, handoff_id).get_by_test_id("claim-button").click()

    notice = second.get_by_test_id("notice")
    expect(notice).to_be_visible()
    expect(notice).to_have_text(re.compile("Un autre agent a pris cette conversation"))
    expect(queue_item(second, handoff_id)).to_have_count(0)
    other = second.locator(f'[data-testid="other-item"][data-handoff-id="{handoff_id}"]')
    expect(other).to_have_count(1)
    expect(other).to_contain_text("Marie Dupont")
    expect(second.get_by_test_id("reply-input")).to_be_hidden()


def test_after_a_dropped_connection_the_desk_reconnects_and_catches_up(
    new_page: PageFactory, desk_server: DeskServer
) -> None:
    link = FlakyLink()
    page = new_page()
    page.route_web_socket(re.compile(r".*/api/agent/ws.*"), link.handle)
    sign_in(page, "agent1")
    citizen, handoff_id = desk_server.waiting_citizen("Bonjour, je veux un agent.")
    claim(page, handoff_id)

    # Everything the server pushes from now on is lost, as on a flaky network...
    link.muted = True
    missed = unique("Message perdu en route ")
    assert citizen.send(missed).status_code == 200
    _, newcomer = desk_server.waiting_citizen("Moi aussi, je veux un agent.")
    # ...then the connection drops: the desk reconnects and fetches what it missed.
    link.routes[0].close(code=1011, reason="network trouble")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "live")
    expect(transcript_message(page, "citizen", missed)).to_have_count(1)
    page.get_by_test_id("tab-queue").click()
    expect(queue_item(page, newcomer)).to_be_visible()
    assert len(link.routes) >= 2


def test_a_message_in_another_of_my_conversations_is_marked_unread(
    new_page: PageFactory, desk_server: DeskServer
) -> None:
    page = new_page()
    sign_in(page, "agent1")
    first, first_id = desk_server.waiting_citizen("Premier citoyen : je veux parler à quelqu'un.")
    second, second_id = desk_server.waiting_citizen("Second citoyen : un humain svp.")
    page.get_by_test_id("tab-queue").click()
    claim(page, second_id)
    page.get_by_test_id("tab-queue").click()
    claim(page, first_id)

    assert second.send("Vous êtes toujours là ?").status_code == 200
    page.get_by_test_id("tab-active").click()
    waiting_reply = active_item(page, second_id)
    expect(waiting_reply).to_have_attribute("data-unread", "true")
    expect(waiting_reply.get_by_test_id("unread-badge")).to_be_visible()
    expect(active_item(page, first_id)).to_have_attribute("data-unread", "false")

    waiting_reply.get_by_test_id("open-button").click()
    expect(transcript_message(page, "citizen", "toujours là")).to_have_count(1)
    expect(active_item(page, second_id)).to_have_attribute("data-unread", "false")
    assert first.send("Merci").status_code == 200
    expect(active_item(page, first_id)).to_have_attribute("data-unread", "true")
