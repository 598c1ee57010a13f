"""Language identification by naive Bayes over character n-grams.

Pure Python (standard library only): it runs inside Rasa's environment as part
of :mod:`bot.components.language`, and can be tested from any environment.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from typing import Any

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(text: str, max_n: int) -> list[str]:
    """Character n-grams (1..max_n) of each word padded with spaces, plus the words.

    Accents are kept: they are among the strongest signals for French.
    """
    grams: list[str] = []
    for word in _words(text):
        padded = f" {word} "
        for n in range(1, max_n + 1):
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
        grams.append(f"<{word}>")
    return grams


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


class NaiveBayesLanguageModel:
    """Per-language n-gram counts and the scoring that uses them."""

    def __init__(self, counts: dict[str, dict[str, int]], max_n: int) -> None:
        """Creates the model from n-gram counts per language."""
        self.counts = counts
        self.max_n = max_n
        self.totals = {lang: sum(c.values()) for lang, c in counts.items()}
        vocabulary: set[str] = set()
        for c in counts.values():
            vocabulary.update(c)
        self.vocabulary_size = max(len(vocabulary), 1)

    @classmethod
    def train(cls, examples: list[tuple[str, str]], max_n: int) -> NaiveBayesLanguageModel:
        """Counts n-grams of (text, language) pairs; accent-less copies are added too."""
        counts: dict[str, Counter[str]] = {}
        for text, lang in examples:
            counter = counts.setdefault(lang, Counter())
            counter.update(ngrams(text, max_n))
            bare = _strip_accents(text)
            if bare != text:
                counter.update(ngrams(bare, max_n))
        return cls({lang: dict(c) for lang, c in counts.items()}, max_n)

    def scores(self, text: str) -> dict[str, float]:
        """Mean log-likelihood per n-gram of the text under each language."""
        grams = ngrams(text, self.max_n)
        if not grams:
            return {}
        result: dict[str, float] = {}
        for lang, counter in self.counts.items():
            denominator = self.totals[lang] + self.vocabulary_size
            total = sum(math.log((counter.get(g, 0) + 1) / denominator) for g in grams)
            result[lang] = total / len(grams)
        return result

    def to_json(self) -> dict[str, Any]:
        """Serialisable form."""
        return {"max_n": self.max_n, "counts": self.counts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NaiveBayesLanguageModel:
        """Inverse of :meth:`to_json`."""
        return cls(data["counts"], int(data["max_n"]))


def detect(
    model: NaiveBayesLanguageModel,
    text: str,
    hint: str | None,
    *,
    min_words: int,
    min_margin: float,
) -> tuple[str | None, float]:
    """Decides the language of a message.

    Args:
        model: the trained n-gram model.
        text: the message.
        hint: the conversation's current language, if the channel sent it.
        min_words: messages with fewer words keep the hint.
        min_margin: the mean log-likelihood margin under which the model is unsure.

    Returns:
        The language (or None when unsure and no hint) and a confidence in [0.5, 1].
    """
    words = _words(text)
    if hint and len(words) < min_words:
        return hint, 1.0
    scores = model.scores(text)
    if len(scores) < 2:
        return hint, 1.0 if hint else 0.0
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, best_score), (_, second_score) = ranked[0], ranked[1]
    margin = best_score - second_score
    confidence = 1.0 / (1.0 + math.exp(-margin * len(words)))
    if margin < min_margin:
        return hint, confidence
    return best, confidence
