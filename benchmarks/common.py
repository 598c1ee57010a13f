"""Helpers shared by the benchmarks: timing, percentiles, question files, outside data."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scripts.model import REPO

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
