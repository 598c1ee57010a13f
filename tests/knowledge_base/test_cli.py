from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from knowledge_base.config import DEFAULT_ENTRIES_DIR, DEFAULT_OUT_OF_SCOPE_FILE
from knowledge_base.store import load_out_of_scope
from tests.knowledge_base.helpers import entry_data, run_cli

run = run_cli


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the shipped entries, built by the CLI once for the module."""
    path = tmp_path_factory.mktemp("cli-index")
    done = run("build-index", index_dir=path)
    assert done.returncode == 0, done.stderr
    return path


def test_validate_shipped_entries(tmp_path: Path) -> None:
    done = run("validate", index_dir=tmp_path)
    assert done.returncode == 0, done.stdout
    count = len(list(DEFAULT_ENTRIES_DIR.glob("*.yml")))
    examples = len(load_out_of_scope(DEFAULT_OUT_OF_SCOPE_FILE))
    assert done.stdout.strip() == f"{count} entries OK; {examples} out-of-scope examples"


def test_validate_lists_problems_and_exits_1(tmp_path: Path) -> None:
    entries = tmp_path / "entries"
    entries.mkdir()
    (entries / "good.yml").write_text(yaml.safe_dump(entry_data("good")), encoding="utf-8")
    (entries / "half.yml").write_text(yaml.safe_dump(entry_data("half", en=False)), encoding="utf-8")
    (entries / "broken.yml").write_text("slug: broken\nfr: [\n", encoding="utf-8")
    done = run("validate", "--entries", str(entries), index_dir=tmp_path)
    assert done.returncode == 1
    assert "2 problem(s)" in done.stdout
    assert "broken.yml: YAML syntax error" in done.stdout
    assert "half.yml: en: missing" in done.stdout


def test_build_index_builds_skips_and_forces(tmp_path: Path) -> None:
    entries = tmp_path / "entries"
    entries.mkdir()
    (entries / "alpha.yml").write_text(yaml.safe_dump(entry_data("alpha")), encoding="utf-8")
    index = tmp_path / "index"

    first = run("build-index", index_dir=index, entries_dir=entries)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"Index built in {index}: 1 entries, 4 texts, backend use")
    assert "Embedding entries" in first.stderr  # the tqdm progress bar

    again = run("build-index", index_dir=index, entries_dir=entries)
    assert again.returncode == 0 and again.stdout.startswith("Index up to date")

    forced = run("build-index", "--force", index_dir=index, entries_dir=entries)
    assert forced.returncode == 0 and forced.stdout.startswith("Index built")

    (entries / "bad.yml").write_text("slug: [", encoding="utf-8")
    broken = run("build-index", index_dir=index, entries_dir=entries)
    assert broken.returncode == 1 and "bad.yml" in broken.stderr


def test_search_jsonl(index_dir: Path) -> None:
    lines = [
        json.dumps({"q": "Combien coûte un passeport pour un adulte ?", "lang": "fr"}, ensure_ascii=False),
        "this is not json",
        json.dumps({"q": "Who won the football game last night?", "lang": None}),
        json.dumps({"lang": "en"}),
        json.dumps({"q": "When do the recycling bins get emptied?", "lang": "en"}),
        "",
    ]
    done = run("search", "--jsonl", index_dir=index_dir, stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [result["q"] for result in results] == [
        "Combien coûte un passeport pour un adulte ?",
        "Who won the football game last night?",
        "When do the recycling bins get emptied?",
    ]
    for result in results:
        assert set(result) == {"q", "answered", "results"}
        assert len(result["results"]) == 5
        assert all(set(hit) == {"slug", "score"} for hit in result["results"])
        scores = [hit["score"] for hit in result["results"]]
        assert scores == sorted(scores, reverse=True)
    assert results[0]["answered"] and results[0]["results"][0]["slug"] == "passport"
    assert not results[1]["answered"]
    assert results[2]["answered"] and results[2]["results"][0]["slug"] == "waste-collection"
    assert "line 2: not valid JSON" in done.stderr
    assert 'line 4: "q" must be a string' in done.stderr


def test_search_one_question(index_dir: Path) -> None:
    done = run("search", "horaires", "de", "la", "mairie", index_dir=index_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("answered")
    assert "opening-hours" in done.stdout.splitlines()[1]


def test_evaluate(index_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        "\n".join(
            [
                json.dumps({"q": "Je dois refaire ma carte d'identité", "lang": "fr", "slug": "id-card"}),
                json.dumps(
                    {"q": "how do I register to vote in Clairval", "lang": "en", "slug": "voter-registration"}
                ),
                json.dumps({"q": "Quel temps fera-t-il ce week-end ?", "lang": "fr", "slug": None}),
                json.dumps({"q": "no slug key"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    done = run("evaluate", str(cases), "-v", index_dir=index_dir)
    assert done.returncode == 0, done.stderr
    assert "3 queries: 2 in scope, 1 out of scope" in done.stdout
    for label in ("recall@1", "recall@3", "MRR@5", "abstention precision", "abstention recall"):
        assert label in done.stdout
    assert "recall@1                1.000" in done.stdout
    assert "abstention recall       1.000" in done.stdout
    assert '"slug" is missing' in done.stderr


def test_unknown_backend_is_a_clear_error(tmp_path: Path) -> None:
    done = run("build-index", index_dir=tmp_path, backend="nope")
    assert done.returncode == 1
    assert "unknown embedding backend 'nope'" in done.stderr
