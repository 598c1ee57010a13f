from __future__ import annotations

import json

import pytest

from knowledge_base.config import DEFAULT_ENTRIES_DIR, REPO_ROOT
from knowledge_base.evaluation import (
    AbstentionEvaluator,
    Prediction,
    Query,
    QueryLineError,
    RetrievalEvaluator,
    evaluate,
    format_report,
    parse_query_line,
    score,
)
from knowledge_base.search import Searcher
from knowledge_base.store import load_entries


def test_parse_query_line() -> None:
    assert parse_query_line('{"q": "Bonjour", "lang": "fr"}') == Query("Bonjour", "fr")
    assert parse_query_line('{"q": "Hi"}') == Query("Hi", None)
    assert (
        parse_query_line('{"q": "Hi", "lang": null, "slug": "passport"}', expect_slug=True).slug == "passport"
    )
    assert parse_query_line('{"q": "Hi", "lang": null, "slug": null}', expect_slug=True).slug is None


@pytest.mark.parametrize(
    ("line", "expect_slug", "message"),
    [
        ("not json", False, "not valid JSON"),
        ('["q"]', False, "expected a JSON object"),
        ('{"lang": "fr"}', False, '"q" must be a string'),
        ('{"q": 1}', False, '"q" must be a string'),
        ('{"q": "x", "lang": "de"}', False, '"lang" must be'),
        ('{"q": "x"}', True, '"slug" is missing'),
        ('{"q": "x", "slug": 3}', True, '"slug" must be'),
    ],
)
def test_parse_query_line_errors(line: str, expect_slug: bool, message: str) -> None:
    with pytest.raises(QueryLineError, match=message):
        parse_query_line(line, expect_slug=expect_slug)


EXPECTED = ["a", "b", "c", None, None]
PREDICTIONS = [
    Prediction(["a", "x", "y"], answered=True),  # right, rank 1
    Prediction(["x", "y", "b"], answered=True),  # rank 3
    Prediction(["x", "y", "z", "w", "v"], answered=False),  # missed, abstained
    Prediction(["a", "b"], answered=False),  # out of scope, abstained
    Prediction(["a", "b"], answered=True),  # out of scope, answered
]


def test_retrieval_evaluator() -> None:
    metrics = RetrievalEvaluator()(EXPECTED, PREDICTIONS)
    assert metrics == pytest.approx({"recall@1": 1 / 3, "recall@3": 2 / 3, "mrr": (1 + 1 / 3) / 3})
    assert RetrievalEvaluator()([None], [Prediction([], False)]) == {}


def test_abstention_evaluator() -> None:
    metrics = AbstentionEvaluator()(EXPECTED, PREDICTIONS)
    assert metrics["abstention_precision"] == pytest.approx(1 / 2)
    assert metrics["abstention_recall"] == pytest.approx(1 / 2)
    assert metrics["answer_accuracy"] == pytest.approx(1 / 3)
    undefined = AbstentionEvaluator()(["a"], [Prediction(["a"], True)])
    assert undefined["abstention_precision"] is None and undefined["abstention_recall"] is None


def test_score_and_format_report() -> None:
    queries = [Query(f"q{i}", None, slug) for i, slug in enumerate(EXPECTED)]
    report = score(queries, PREDICTIONS)
    assert (report.total, report.in_scope, report.out_of_scope) == (5, 3, 2)
    assert [miss.kind for miss in report.misses] == ["wrong entry", "wrong entry", "answered out of scope"]
    table = format_report(report, show_misses=True)
    for label in ("recall@1", "recall@3", "MRR@5", "abstention precision", "abstention recall", "0.333"):
        assert label in table
    assert "[answered out of scope] 'q4'" in table
    only_in_scope = format_report(score(queries[:1], PREDICTIONS[:1]))
    assert "abstention recall" in only_in_scope and "n/a" in only_in_scope


QUESTION_SETS = REPO_ROOT / "benchmarks" / "data"


@pytest.mark.parametrize("name", ["kb-dev.jsonl", "kb-heldout.jsonl", "kb-final.jsonl"])
def test_question_sets_are_well_formed_and_not_copied_from_the_entries(name: str) -> None:
    lines = (QUESTION_SETS / name).read_text(encoding="utf-8").splitlines()
    queries = [parse_query_line(line, expect_slug=True) for line in lines]
    slugs = {entry.slug for entry in load_entries(DEFAULT_ENTRIES_DIR)}
    assert {query.slug for query in queries if query.slug} == slugs  # every procedure is asked about
    assert len(queries) >= 150 and sum(query.slug is None for query in queries) >= 40
    assert {query.lang for query in queries} == {"fr", "en"}
    texts = {
        " ".join(text.casefold().split())
        for entry in load_entries(DEFAULT_ENTRIES_DIR)
        for _, text in entry.texts()
    }
    kinds = {json.loads(line)["q"]: json.loads(line)["kind"] for line in lines}
    copied = [query.q for query in queries if " ".join(query.q.casefold().split()) in texts]
    # A short keyword query may coincide with an entry's ("objets trouvés"); nothing longer may.
    assert not [question for question in copied if kinds[question] != "keywords"]


def test_defaults_on_the_dev_set(shipped_searcher: Searcher) -> None:
    """The dev question set is the one the defaults were tuned on: a regression check of that tuning."""
    lines = (QUESTION_SETS / "kb-dev.jsonl").read_text(encoding="utf-8").splitlines()
    report = evaluate(shipped_searcher, [parse_query_line(line, expect_slug=True) for line in lines])
    assert report.metrics["recall@1"] is not None and report.metrics["recall@1"] >= 0.95
    assert report.metrics["recall@3"] is not None and report.metrics["recall@3"] >= 0.98
    assert report.metrics["answer_accuracy"] is not None and report.metrics["answer_accuracy"] >= 0.9
    assert report.metrics["abstention_recall"] is not None and report.metrics["abstention_recall"] >= 0.95
