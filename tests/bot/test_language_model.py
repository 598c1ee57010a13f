"""The language model of the NLU pipeline, trained on the NLU examples.

``bot/components/language_model.py`` is pure Python, so it is tested here in
``.venv`` on sentences that are not in the training data; the Rasa component that
wraps it is exercised through the real Rasa server in the end-to-end tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.components.language_model import NaiveBayesLanguageModel, detect

REPO = Path(__file__).resolve().parents[2]


def decide(model: NaiveBayesLanguageModel, text: str, hint: str | None) -> tuple[str | None, float]:
    """The decision with the component's default settings."""
    return detect(model, text, hint, min_words=3, min_margin=0.05)


def training_examples() -> list[tuple[str, str]]:
    examples: list[tuple[str, str]] = []
    for path in sorted((REPO / "training_data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            language = (block.get("metadata") or {}).get("language")
            if language and "examples" in block:
                for line in block["examples"].splitlines():
                    if line.strip().startswith("- "):
                        examples.append((line.strip()[2:], language))
    return examples


@pytest.fixture(scope="module")
def model() -> NaiveBayesLanguageModel:
    return NaiveBayesLanguageModel.train(training_examples(), max_n=4)


def test_every_nlu_block_names_its_language() -> None:
    for path in sorted((REPO / "training_data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if "intent" in block:
                assert (block.get("metadata") or {}).get("language") == path.stem, (
                    path.name,
                    block["intent"],
                )


HELD_OUT = [
    ("Bonjour, je voudrais savoir comment refaire mon passeport", "fr"),
    ("ma fille a besoin d une carte d identite pour le voyage scolaire", "fr"),
    ("quels jours passent les poubelles dans ma rue", "fr"),
    ("est-ce que je peux voter si je viens de déménager", "fr"),
    ("la mediatheque est ouverte le dimanche ?", "fr"),
    ("je dois déclarer mon changement d'adresse à qui", "fr"),
    ("Hello, how can I renew my passport before the summer holidays?", "en"),
    ("my daughter needs an identity card for a school trip", "en"),
    ("which days are the bins collected in my street", "en"),
    ("can I still vote if I have just moved house", "en"),
    ("is the library open on sundays", "en"),
    ("who do I have to tell about my new address", "en"),
]


@pytest.mark.parametrize(("text", "expected"), HELD_OUT)
def test_held_out_sentences_are_recognised(model: NaiveBayesLanguageModel, text: str, expected: str) -> None:
    language, confidence = decide(model, text, None)
    assert language == expected
    assert confidence > 0.5


@pytest.mark.parametrize("hint", ["fr", "en"])
@pytest.mark.parametrize("text", ["ok", "merci", "thanks!", "carte grise", "passport"])
def test_short_messages_keep_the_conversation_language(
    model: NaiveBayesLanguageModel, text: str, hint: str
) -> None:
    assert decide(model, text, hint)[0] == hint


def test_a_full_sentence_switches_language_against_the_hint(model: NaiveBayesLanguageModel) -> None:
    assert decide(model, "could you tell me how to get a birth certificate", "fr")[0] == "en"
    assert decide(model, "pouvez-vous me dire comment obtenir un acte de naissance", "en")[0] == "fr"


def test_serialisation_round_trip(model: NaiveBayesLanguageModel) -> None:
    copy = NaiveBayesLanguageModel.from_json(model.to_json())
    text = "où se trouve la mairie"
    assert copy.scores(text) == pytest.approx(model.scores(text))


def test_no_letters_means_no_decision_without_a_hint(model: NaiveBayesLanguageModel) -> None:
    assert decide(model, "12345 ???", None)[0] is None
