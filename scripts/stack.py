"""Runs Guichet's three processes together: Rasa server, action server, API.

``python -m scripts.stack`` (what ``make run`` ends with) trains the Rasa model
and builds the knowledge-base index if needed, starts the three processes on
loopback with one combined, prefixed log, waits until ``GET /health`` answers
200, and stops them all on Ctrl-C (or as soon as one of them dies). The
end-to-end tests use the same :class:`Stack`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TextIO

import httpx

from api.config import Settings
from scripts.model import REPO, ensure_trained, rasa_environment

logger = logging.getLogger(__name__)

COLOURS = {"rasa": "\033[35m", "actions": "\033[36m", "api": "\033[32m"}
RESET = "\033[0m"


class StackError(RuntimeError):
    """A process of the stack failed to start or died."""


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the stack: how to start it and how to know it is up."""

    name: str
    argv: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_environment(var_dir: Path) -> dict[str, str]:
    """``GUICHET_*`` variables for a stack of its own: free ports, its database in ``var_dir``.

    Tests and benchmarks run their stack with these, beside any stack started by ``make run``.
    """
    return {
        "GUICHET_API_PORT": str(free_port()),
        "GUICHET_RASA_PORT": str(free_port()),
        "GUICHET_ACTIONS_PORT": str(free_port()),
        "GUICHET_DATABASE_URL": f"sqlite:///{var_dir / 'guichet.db'}",
    }


#: Math libraries use one thread per process unless told otherwise: each process serves concurrent requests,
#: and on a small machine threads of a single query only wait for each other (ADR 0007).
SINGLE_THREADED_MATH = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_INTRA_OP_PARALLELISM_THREADS",
    "TF_INTER_OP_PARALLELISM_THREADS",
)


def service_specs(
    settings: Settings, model: Path, var_dir: Path, *, enable_rasa_api: bool = False
) -> list[ServiceSpec]:
    """The three processes, configured from the settings.

    Args:
        settings: the Guichet settings (ports, URLs, database).
        model: the trained Rasa model to serve.
        var_dir: where Rasa's tracker store lives.
        enable_rasa_api: also open Rasa's HTTP API (``/model/parse``...), for benchmarks.
    """
    base = {
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        **{name: os.environ.get(name, "1") for name in SINGLE_THREADED_MATH},
    }
    rasa_env = {
        **rasa_environment(),
        **base,
        "GUICHET_ACTIONS_WEBHOOK_URL": f"{settings.actions_url}/webhook",
        "GUICHET_RASA_TRACKER_DB": str(var_dir / "rasa-tracker.db"),
        # The guichet channel checks the API's signed resume calls (the secret may come from .env).
        "GUICHET_WEBHOOK_SECRET": settings.webhook_secret.get_secret_value(),
    }
    return [
        ServiceSpec(
            name="rasa",
            argv=[
                str(REPO / ".venv-rasa" / "bin" / "rasa"),
                "run",
                "--model",
                str(model),
                "--endpoints",
                "bot/endpoints.yml",
                "--credentials",
                "bot/credentials.yml",
                "--interface",
                "127.0.0.1",
                "--port",
                str(settings.rasa_port),
                *(["--enable-api"] if enable_rasa_api else []),
            ],
            ready_url=f"{settings.rasa_url}/",
            env=rasa_env,
        ),
        ServiceSpec(
            name="actions",
            argv=[
                sys.executable,
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "--endpoints",
                "bot/endpoints.yml",
                "--port",
                str(settings.actions_port),
            ],
            ready_url=f"{settings.actions_url}/health",
            env={**base, "SANIC_HOST": "127.0.0.1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        ),
        ServiceSpec(
            name="api",
            argv=[sys.executable, "-m", "api"],
            ready_url=f"http://127.0.0.1:{settings.api_port}/health",
            env=base,
        ),
    ]


class Stack:
    """Starts, watches and stops a set of processes, merging their output."""

    def __init__(
        self, specs: list[ServiceSpec], out: TextIO | None = None, colour: bool | None = None
    ) -> None:
        """Prepares the stack; nothing starts before :meth:`start`.

        Args:
            specs: the processes.
            out: where the combined log goes (standard output by default).
            colour: colour the prefixes (default: when ``out`` is a terminal).
        """
        self.specs = specs
        self.out = out or sys.stdout
        self.colour = self.out.isatty() if colour is None else colour
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self._threads: list[threading.Thread] = []
        self._write_lock = threading.Lock()

    def _prefix(self, name: str) -> str:
        width = max(len(spec.name) for spec in self.specs)
        label = f"{name:>{width}} |"
        return f"{COLOURS.get(name, '')}{label}{RESET}" if self.colour else label

    def _pump(self, name: str, stream: TextIO | None) -> None:
        if stream is None:
            return
        prefix = self._prefix(name)
        for line in stream:
            with self._write_lock:
                self.out.write(f"{prefix} {line.rstrip()}\n")
                self.out.flush()

    def start(self) -> None:
        """Starts every process in its own process group."""
        for spec in self.specs:
            process = subprocess.Popen(
                spec.argv,
                cwd=REPO,
                env={**os.environ, **spec.env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
            self.processes[spec.name] = process
            thread = threading.Thread(target=self._pump, args=(spec.name, process.stdout), daemon=True)
            thread.start()
            self._threads.append(thread)

    def dead(self) -> list[str]:
        """Names of the processes that have exited."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def wait_until_ready(self, timeout: float = 240.0) -> None:
        """Waits until every process answers its readiness URL.

        Raises:
            StackError: a process died, or the timeout passed.
        """
        deadline = time.monotonic() + timeout
        pending = list(self.specs)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                if dead := self.dead():
                    raise StackError(f"stopped before it was ready: {', '.join(dead)}")
                if time.monotonic() > deadline:
                    raise StackError(f"not ready after {timeout:.0f} s: {', '.join(s.name for s in pending)}")
                spec = pending[0]
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(spec.ready_url).status_code == 200:
                        pending.pop(0)
                        continue
                time.sleep(0.5)

    def stop(self, timeout: float = 20.0) -> None:
        """Stops every process.

        SIGTERM goes to each process itself, which shuts its own workers down (Sanic
        fails noisily when its workers get the signal at the same time); whatever is
        left of a process group after the timeout, or after its leader exits, is killed.
        """
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> Stack:
        """Starts the stack."""
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stops the stack."""
        self.stop()


def prepare() -> Path:
    """Trains the Rasa model and builds the index when they are out of date."""
    from knowledge_base.index import ensure_index

    model = ensure_trained()
    ensure_index(progress=True)
    return model


def main(argv: list[str] | None = None) -> int:
    """Runs the stack in the foreground until Ctrl-C or a process dies."""
    parser = argparse.ArgumentParser(prog="python -m scripts.stack", description=__doc__)
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings()
    try:
        model = prepare()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    var_dir = REPO / "var"
    var_dir.mkdir(exist_ok=True)
    stack = Stack(service_specs(settings, model, var_dir))
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack.start()
    try:
        stack.wait_until_ready(args.ready_timeout)
        api = f"http://127.0.0.1:{settings.api_port}"
        print(
            f"\nGuichet is ready.\n  API       {api}  (OpenAPI docs: {api}/docs)\n"
            f"  agents    {api}/agent  (accounts: .venv/bin/python -m api.users create NAME --role agent)\n"
            f"  health    {api}/health\n  Rasa      {settings.rasa_url}\n"
            f"  actions   {settings.actions_url}\nPress Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping.wait(0.5):
            if dead := stack.dead():
                print(f"error: {', '.join(dead)} stopped; stopping the others", file=sys.stderr)
                return 1
        return 0
    except StackError as error:
        if not stopping.is_set():
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    finally:
        print("stopping…", flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
