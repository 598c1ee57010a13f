"""The Rasa project validates and its conversation tests pass (``rasa test``).

These run Rasa's own commands in ``.venv-rasa``, on the trained model.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from scripts.model import RASA, REPO, rasa_environment


def run_rasa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RASA), *args], cwd=REPO, env=rasa_environment(), capture_output=True, text=True, timeout=600
    )


def test_rasa_data_validate_finds_no_error() -> None:
    result = run_rasa(
        "data",
        "validate",
        "--domain",
        "bot/domain.yml",
        "--data",
        "training_data",
        "--config",
        "bot/config.yml",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_conversation_tests_pass_in_both_languages(rasa_model: Path, tmp_path: Path) -> None:
    """Every test story passes: actions predicted by the rules, intents and languages by the NLU (--e2e)."""
    result = run_rasa(
        "test", "core", "--e2e",
        "--model", str(rasa_model),
        "--stories", "training_data/test_stories.yml",
        "--out", str(tmp_path),
        "--fail-on-prediction-errors",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = tmp_path / "failed_test_stories.yml"
    assert not failed.exists() or "story:" not in failed.read_text(encoding="utf-8"), failed.read_text()
    stories = (REPO / "training_data" / "test_stories.yml").read_text(encoding="utf-8").count("- story:")
    story_level = result.stdout + result.stderr
    assert re.search(rf"Correct:\s+{stories} / {stories}\b", story_level), "not every story was evaluated"


def test_the_test_stories_cover_each_flow_in_both_languages() -> None:
    names = [
        line.split("- story:", 1)[1].strip()
        for line in (REPO / "training_data" / "test_stories.yml").read_text(encoding="utf-8").splitlines()
        if "- story:" in line
    ]
    flows = {name.split(" - ", 1)[1] for name in names}
    for flow in flows:
        assert {f"French - {flow}", f"English - {flow}"} <= set(names), flow
    assert len(flows) >= 10
