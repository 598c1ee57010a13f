"""One real stack (Rasa server, action server, API), shared by the end-to-end and browser tests.

The processes are started by :class:`scripts.stack.Stack`, as ``make run`` does,
on free ports, with their databases in a temporary folder. Their combined log is
written to that folder and printed when the stack fails to start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.config import Settings
from scripts.stack import Stack, StackError, isolated_environment, prepare, service_specs


@dataclass(frozen=True)
class RunningStack:
    """What a test needs to talk to the running stack."""

    api_url: str
    settings: Settings
    var_dir: Path
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30.0)


def start_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Start the stack in a fresh folder, yield it once every service is ready, stop it after."""
    var_dir = tmp_path_factory.mktemp("stack")
    # Agents answer at any hour here; whether one is online decides between a live handoff and a ticket.
    # The whole session's citizens come from one address: no rate limits (tests/api tests them).
    environment = {
        **isolated_environment(var_dir),
        "GUICHET_OFFICE_HOURS": "always",
        "GUICHET_RATE_LIMITS": "off",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        settings = Settings()
        model = prepare()
        log = var_dir / "stack.log"
        with log.open("w", encoding="utf-8") as out:
            running = Stack(service_specs(settings, model, var_dir), out=out, colour=False)
            running.start()
            try:
                running.wait_until_ready(timeout=400)
            except StackError as error:
                running.stop()
                out.flush()
                pytest.fail(f"{error}\n--- stack log (end) ---\n{log.read_text(encoding='utf-8')[-8000:]}")
            try:
                yield RunningStack(f"http://127.0.0.1:{settings.api_port}", settings, var_dir, log)
            finally:
                running.stop()


AGENT_PASSWORD = "une phrase de passe assez longue"


def create_agent(name: str, display_name: str) -> None:
    """Create an agent's account with ``python -m api.users``, as an administrator would (the password is
    ``AGENT_PASSWORD``); the stack fixture's environment points it at the stack's database."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.users",
            "create",
            name,
            "--role",
            "agent",
            "--display-name",
            display_name,
        ],
        input=AGENT_PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
