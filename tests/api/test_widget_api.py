"""What the citizens' widget needs from the API: its script, the demo page, its settings, the language switch,
and cross-origin access from the commune's own site (and none for the staff endpoints)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.cors import parse_origins
from api.main import create_app
from tests.api.helpers import start_conversation
from tests.api.test_conversations import stored_conversation

SITE = "https://www.clairval.fr"


def test_widget_js_carries_its_style_sheet_and_is_cached_by_etag(client: TestClient) -> None:
    served = client.get("/widget.js")
    assert served.status_code == 200
    assert served.headers["content-type"] == "text/javascript; charset=utf-8"
    script = served.text
    assert "__GUICHET_WIDGET_CSS__" not in script
    assert "prefers-reduced-motion" in script  # the style sheet is inside, as a string
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "eval(" not in script
    etag = served.headers["etag"]
    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_widget_js_is_compressed_for_browsers_that_accept_gzip(client: TestClient) -> None:
    plain = client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    compressed = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip"
    # httpx decodes it: the same script, in under a third of the bytes on the wire.
    assert compressed.text == plain.text
    assert int(compressed.headers["content-length"]) < len(plain.content) / 3


def test_the_demo_page_embeds_the_widget_with_one_script_tag(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/widget.js" defer' in page.text
    assert page.text.count("<script") == 1
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_widget_config_states_languages_and_retention(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(GUICHET_RETENTION_DAYS="30", GUICHET_DEFAULT_LANGUAGE="en")
    with TestClient(create_app(settings)) as client:
        config = client.get("/api/widget/config")
    assert config.status_code == 200
    assert config.json() == {"default_language": "en", "languages": ["fr", "en"], "retention_days": 30}


def test_the_language_switch_changes_the_conversation_language(
    client: TestClient, settings: Settings
) -> None:
    conversation, headers = start_conversation(client)
    assert stored_conversation(settings, conversation)["language_known"] in (False, 0)
    switched = client.patch(f"/api/conversations/{conversation}", json={"language": "en"}, headers=headers)
    assert switched.status_code == 200, switched.text
    assert switched.json() == {"id": conversation, "language": "en", "mode": "bot"}
    row = stored_conversation(settings, conversation)
    assert row["language"] == "en"
    assert row["language_known"] in (True, 1)


@pytest.mark.parametrize(
    ("body", "status"),
    [({"language": "de"}, 422), ({}, 422), ([], 422)],
)
def test_the_language_switch_refuses_bad_bodies(client: TestClient, body: object, status: int) -> None:
    conversation, headers = start_conversation(client)
    answer = client.patch(f"/api/conversations/{conversation}", json=body, headers=headers)
    assert answer.status_code == status
    assert isinstance(answer.json()["detail"], str)


def test_the_language_switch_needs_the_conversation_token(client: TestClient) -> None:
    conversation, _ = start_conversation(client)
    _, other_headers = start_conversation(client)
    assert client.patch(f"/api/conversations/{conversation}", json={"language": "en"}).status_code == 401
    forged = client.patch(
        f"/api/conversations/{conversation}", json={"language": "en"}, headers=other_headers
    )
    assert forged.status_code == 401
    missing = client.patch("/api/conversations/nope", json={"language": "en"}, headers=other_headers)
    assert missing.status_code == 404


def test_citizen_endpoints_answer_the_commune_site_cross_origin(client: TestClient) -> None:
    preflight = client.options(
        "/api/conversations",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    created = client.post("/api/conversations", json={"language": "fr"}, headers={"Origin": SITE})
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in created.headers
    config = client.get("/api/widget/config", headers={"Origin": SITE})
    assert config.headers["access-control-allow-origin"] == "*"


def test_staff_endpoints_get_no_cross_origin_headers(client: TestClient) -> None:
    login = client.post("/api/auth/login", json={"username": "x", "password": "y"}, headers={"Origin": SITE})
    assert "access-control-allow-origin" not in login.headers
    preflight = client.options(
        "/api/handoffs", headers={"Origin": SITE, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_only_the_listed_sites_may_call_when_origins_are_set(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(GUICHET_WIDGET_ORIGINS=f"{SITE}, https://mairie.example.org/")
    with TestClient(create_app(settings)) as client:
        allowed = client.post("/api/conversations", json={}, headers={"Origin": SITE})
        assert allowed.headers["access-control-allow-origin"] == SITE
        refused = client.post("/api/conversations", json={}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("value", ["ftp://x.fr", "https://x.fr/path", "x.fr", "https://"])
def test_malformed_widget_origins_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        parse_origins(value)
