"""Retrieval and abstention metrics, and the JSON-lines query format shared by ``search`` and ``evaluate``.

The evaluators work on plain data (expected slugs, ranked slugs, answered flags), in the spirit of
sentence-transformers' evaluators, so they can be tested and reused without a model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge_base.search import Searcher

LANG_VALUES: tuple[str | None, ...] = ("fr", "en", None)


class QueryLineError(ValueError):
    """A line of JSON-lines input is not a valid query."""


@dataclass(frozen=True)
class Query:
    """One query line: ``{"q": str, "lang": "fr"|"en"|null}``, plus ``"slug"`` in evaluation files.

    Attributes:
        q: The question.
        lang: Its language, or None when unknown.
        slug: The entry expected to answer it, None for an out-of-scope question (evaluation only).
    """

    q: str
    lang: str | None = None
    slug: str | None = None


def parse_query_line(line: str, *, expect_slug: bool = False) -> Query:
    """Parse one JSON line of queries.

    Args:
        line: The line, a JSON object.
        expect_slug: Require a ``"slug"`` key (a string, or null for out-of-scope), as in evaluation files.

    Returns:
        The query.

    Raises:
        QueryLineError: The line is not valid JSON or not a valid query; the message says why.
    """
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise QueryLineError(f"not valid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise QueryLineError(f'expected a JSON object like {{"q": ...}}, got {type(data).__name__}')
    question = data.get("q")
    if not isinstance(question, str):
        raise QueryLineError('"q" must be a string (the question)')
    lang = data.get("lang")
    if lang not in LANG_VALUES:
        raise QueryLineError(f'"lang" must be "fr", "en" or null, got {lang!r}')
    slug = data.get("slug")
    if expect_slug:
        if "slug" not in data:
            raise QueryLineError(
                '"slug" is missing (the expected entry, or null for an out-of-scope question)'
            )
        if slug is not None and not isinstance(slug, str):
            raise QueryLineError('"slug" must be a string or null')
    return Query(q=question, lang=lang, slug=slug if isinstance(slug, str) else None)


@dataclass(frozen=True)
class Prediction:
    """What the searcher did with one query.

    Attributes:
        ranked: Slugs of the entries found, best first.
        answered: Whether it would answer (False: it abstained).
    """

    ranked: list[str]
    answered: bool


class RetrievalEvaluator:
    """Recall@k and mean reciprocal rank over the in-scope queries (those with an expected slug).

    Args:
        ks: The cut-offs for recall.
        mrr_at: Ranks beyond this count 0 in the MRR.
    """

    def __init__(self, ks: Sequence[int] = (1, 3), mrr_at: int = 5) -> None:
        self.ks = tuple(ks)
        self.mrr_at = mrr_at

    def __call__(self, expected: Sequence[str | None], predictions: Sequence[Prediction]) -> dict[str, float]:
        """Compute the metrics.

        Args:
            expected: Expected slug per query (None: out of scope, ignored here).
            predictions: The searcher's predictions, in the same order.

        Returns:
            ``{"recall@1": ..., "recall@3": ..., "mrr": ...}``; empty when no query is in scope.
        """
        pairs = [(slug, pred) for slug, pred in zip(expected, predictions, strict=True) if slug is not None]
        if not pairs:
            return {}
        metrics: dict[str, float] = {}
        for k in self.ks:
            metrics[f"recall@{k}"] = sum(slug in pred.ranked[:k] for slug, pred in pairs) / len(pairs)
        reciprocal = 0.0
        for slug, pred in pairs:
            top = pred.ranked[: self.mrr_at]
            if slug in top:
                reciprocal += 1.0 / (top.index(slug) + 1)
        metrics["mrr"] = reciprocal / len(pairs)
        return metrics


class AbstentionEvaluator:
    """How well the searcher abstains on out-of-scope queries (the positive class is "abstain").

    - precision: of the queries it abstained on, the share that were out of scope;
    - recall: of the out-of-scope queries, the share it abstained on;
    - answer accuracy: of the in-scope queries, the share answered with the right entry first.
    """

    def __call__(
        self, expected: Sequence[str | None], predictions: Sequence[Prediction]
    ) -> dict[str, float | None]:
        """Compute the metrics.

        Args:
            expected: Expected slug per query (None: out of scope).
            predictions: The searcher's predictions, in the same order.

        Returns:
            ``{"abstention_precision", "abstention_recall", "answer_accuracy"}``; a metric is None when
            undefined (nothing abstained, no out-of-scope or no in-scope query).
        """
        pairs = list(zip(expected, predictions, strict=True))
        abstained = [slug for slug, pred in pairs if not pred.answered]
        out_of_scope = [pred for slug, pred in pairs if slug is None]
        in_scope = [(slug, pred) for slug, pred in pairs if slug is not None]
        return {
            "abstention_precision": _ratio(sum(slug is None for slug in abstained), len(abstained)),
            "abstention_recall": _ratio(sum(not pred.answered for pred in out_of_scope), len(out_of_scope)),
            "answer_accuracy": _ratio(
                sum(pred.answered and pred.ranked[:1] == [slug] for slug, pred in in_scope), len(in_scope)
            ),
        }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Miss:
    """A query the searcher got wrong.

    Attributes:
        query: The query.
        prediction: What the searcher did.
        kind: ``wrong entry``, ``abstained`` (in scope but not answered) or ``answered out of scope``.
    """

    query: Query
    prediction: Prediction
    kind: str


@dataclass(frozen=True)
class EvaluationReport:
    """The result of an evaluation.

    Attributes:
        total: Number of queries.
        in_scope: Queries with an expected entry.
        out_of_scope: Queries expected to be abstained on.
        metrics: Metric name -> value (None when undefined).
        misses: The queries the searcher got wrong.
    """

    total: int
    in_scope: int
    out_of_scope: int
    metrics: dict[str, float | None]
    misses: list[Miss] = field(default_factory=list)


def score(queries: Sequence[Query], predictions: Sequence[Prediction]) -> EvaluationReport:
    """Compute every metric for queries and the searcher's predictions.

    Args:
        queries: The evaluation queries, with their expected slugs.
        predictions: The searcher's predictions, in the same order.

    Returns:
        The report.
    """
    expected = [query.slug for query in queries]
    metrics: dict[str, float | None] = {"recall@1": None, "recall@3": None, "mrr": None}
    metrics.update(RetrievalEvaluator()(expected, predictions))
    metrics.update(AbstentionEvaluator()(expected, predictions))
    misses = []
    for query, pred in zip(queries, predictions, strict=True):
        if query.slug is None:
            if pred.answered:
                misses.append(Miss(query, pred, "answered out of scope"))
        elif pred.ranked[:1] != [query.slug]:
            misses.append(Miss(query, pred, "wrong entry"))
        elif not pred.answered:
            misses.append(Miss(query, pred, "abstained"))
    in_scope = sum(slug is not None for slug in expected)
    return EvaluationReport(len(queries), in_scope, len(queries) - in_scope, metrics, misses)


def evaluate(searcher: Searcher, queries: Iterable[Query], k: int = 5) -> EvaluationReport:
    """Run the searcher on evaluation queries and score it.

    Args:
        searcher: A loaded searcher.
        queries: Queries with their expected slugs.
        k: Entries retrieved per query.

    Returns:
        The report.
    """
    queries = list(queries)
    predictions = []
    for query in queries:
        result = searcher.search(query.q, lang=query.lang, k=k)
        predictions.append(Prediction([hit.slug for hit in result.hits], result.answered))
    return score(queries, predictions)


_LABELS = {
    "recall@1": "recall@1",
    "recall@3": "recall@3",
    "mrr": "MRR@5",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "answer_accuracy": "answer accuracy",
}


def format_report(report: EvaluationReport, *, show_misses: bool = False) -> str:
    """Render a report as a small text table.

    Args:
        report: The report.
        show_misses: Also list the queries the searcher got wrong.

    Returns:
        The table, one metric a line.
    """
    lines = [
        f"{report.total} queries: {report.in_scope} in scope, {report.out_of_scope} out of scope",
        "",
        f"{'metric':<22} {'value':>6}",
        f"{'-' * 22} {'-' * 6}",
    ]
    for key, label in _LABELS.items():
        value = report.metrics.get(key)
        lines.append(f"{label:<22} {'n/a' if value is None else f'{value:.3f}':>6}")
    if show_misses and report.misses:
        lines += ["", "misses:"]
        for miss in report.misses:
            found = ", ".join(miss.prediction.ranked[:3]) or "-"
            expected = miss.query.slug or "(out of scope)"
            lines.append(f"  [{miss.kind}] {miss.query.q!r}: expected {expected}, got {found}")
    return "\n".join(lines)
