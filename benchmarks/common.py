"""Helpers shared by the benchmarks: timing, percentiles, question files, outside data, the API alone."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from api.accounts import create_user
from api.config import Settings
from api.db import Database, create_db_engine, run_migrations
from api.models import Role
from scripts.model import REPO
from scripts.stack import Stack, StackError, isolated_environment, prepare, service_specs

#: Question sets written for the knowledge base (see ``benchmarks/data/README.md``).
DEV_QUESTIONS = REPO / "benchmarks" / "data" / "kb-dev.jsonl"
HELDOUT_QUESTIONS = REPO / "benchmarks" / "data" / "kb-heldout.jsonl"
FINAL_QUESTIONS = REPO / "benchmarks" / "data" / "kb-final.jsonl"
#: Outside evaluation data, beside the checkout (never in the repository).
SHARED_EVAL = REPO.parent / "shared" / "eval"


@dataclass(frozen=True)
class Question:
    """One line of a question set.

    Attributes:
        q: The question.
        lang: Its language.
        slug: The entry that answers it, None when out of scope.
        kind: ``paraphrase``, ``keywords``, ``typo`` or ``oos``.
    """

    q: str
    lang: str | None
    slug: str | None
    kind: str


def read_questions(path: Path) -> list[Question]:
    """Read a question set (JSON lines ``{"q", "lang", "slug", "kind"}``)."""
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            slug = item.get("slug")
            questions.append(
                Question(
                    item["q"],
                    item.get("lang"),
                    slug,
                    item.get("kind") or ("oos" if slug is None else "paraphrase"),
                )
            )
    return questions


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(name: str, milliseconds: list[float]) -> str:
    """One line: count, p50, p95, max."""
    return (
        f"{name:<52} n={len(milliseconds):<5} p50={percentile(milliseconds, 50):7.2f} ms  "
        f"p95={percentile(milliseconds, 95):7.2f} ms  max={max(milliseconds):7.2f} ms"
    )


def timed(function: Callable[[], object]) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def resident_mib() -> float:
    """The process's current resident memory (MiB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def running_api(agents: Sequence[tuple[str, str]] = ()) -> Iterator[Settings]:
    """Starts the API alone on a free port, its database in a temporary folder, and stops it after.

    Args:
        agents: Agents' accounts, ``(username, password)``, made before the API starts.
    """
    with tempfile.TemporaryDirectory() as var:
        var_dir = Path(var)
        os.environ.update(isolated_environment(var_dir))
        os.environ.update({"GUICHET_RATE_LIMITS": "off", "GUICHET_OFFICE_HOURS": "always"})
        settings = Settings()
        run_migrations(settings.database_url)
        db = Database(create_db_engine(settings.database_url))
        with db.session() as session:
            for username, password in agents:
                create_user(session, username, password, role=Role.AGENT)
        db.dispose()
        # Alone, the API is not healthy (no Rasa): it is ready once it serves its schema.
        specs = [
            replace(spec, ready_url=f"{settings.api_url}/openapi.json")
            for spec in service_specs(settings, prepare(), var_dir)
            if spec.name == "api"
        ]
        with (var_dir / "api.log").open("w") as log, Stack(specs, out=log) as stack:
            try:
                stack.wait_until_ready(timeout=120)
            except StackError as error:
                sys.exit(f"{error}; see {var_dir / 'api.log'}")
            yield settings
