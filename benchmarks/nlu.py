"""The NLU pipeline measured: intent F1 per language by cross-validation, and language detection.

Intents: the NLU examples of ``training_data/nlu`` are split into ``folds`` folds, stratified by intent and
language. For each fold Rasa trains the project's pipeline (``bot/config.yml``, unchanged) on the other
folds and predicts the fold's intents (``rasa test nlu``); all folds' predictions are scored per language.

Language: the detector of ``bot/components/language.py`` is trained on the same folds and tested without
any hint, as on a conversation's first message; then on the knowledge-base question sets (written apart
from the NLU data), and timed per message.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.common import FINAL_QUESTIONS, percentile, read_questions
from bot.components.language_model import NaiveBayesLanguageModel, detect
from scripts.model import RASA, REPO, rasa_environment

NLU_DIR = REPO / "training_data" / "nlu"
CONFIG = REPO / "bot" / "config.yml"
#: Settings of the detector in bot/config.yml's pipeline (its defaults).
MAX_NGRAM, MIN_WORDS, MIN_MARGIN = 4, 3, 0.05


@dataclass(frozen=True)
class Example:
    """One NLU example."""

    text: str
    intent: str
    language: str


def read_examples(nlu_dir: Path = NLU_DIR) -> list[Example]:
    """Every NLU example, with its intent and the language of its intent block."""
    examples = []
    for path in sorted(nlu_dir.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            language = str((block.get("metadata") or {}).get("language"))
            for line in str(block.get("examples", "")).splitlines():
                text = line.strip()
                if text.startswith("- "):
                    examples.append(Example(text[2:].strip(), block["intent"], language))
    return examples


def folds_of(examples: list[Example], folds: int, seed: int = 7) -> list[list[Example]]:
    """Splits the examples into folds, stratified by intent and language."""
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for example in examples:
        groups[(example.intent, example.language)].append(example)
    split: list[list[Example]] = [[] for _ in range(folds)]
    rng = random.Random(seed)
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        for i, example in enumerate(members):
            split[i % folds].append(example)
    return split


def write_nlu(examples: list[Example], path: Path) -> None:
    """Writes examples as a Rasa NLU file, one block per intent and language."""
    blocks: dict[tuple[str, str], list[str]] = defaultdict(list)
    for example in examples:
        blocks[(example.intent, example.language)].append(example.text)
    nlu = [
        {"intent": intent, "metadata": {"language": language}, "examples": "".join(f"- {t}\n" for t in texts)}
        for (intent, language), texts in sorted(blocks.items())
    ]
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True), encoding="utf-8")


def run_rasa(*args: str) -> None:
    """Runs a Rasa command, exiting with its output if it fails."""
    result = subprocess.run(
        [str(RASA), *args], cwd=REPO, env=rasa_environment(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"rasa {args[0]} {args[1]} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def predict_fold(train: list[Example], test: list[Example], work: Path) -> dict[str, str]:
    """Trains the pipeline on ``train`` and returns the predicted intent of each text of ``test``."""
    write_nlu(train, work / "train.yml")
    write_nlu(test, work / "test.yml")
    run_rasa("train", "nlu", "--nlu", str(work / "train.yml"), "--config", str(CONFIG),
             "--out", str(work), "--fixed-model-name", "fold")  # fmt: skip
    run_rasa("test", "nlu", "--nlu", str(work / "test.yml"), "--model", str(work / "fold.tar.gz"),
             "--out", str(work / "results"), "--successes", "--no-plot")  # fmt: skip
    predicted = {}
    for name in ("intent_successes.json", "intent_errors.json"):
        path = work / "results" / name
        if path.exists():
            for item in json.loads(path.read_text(encoding="utf-8")):
                predicted[item["text"]] = (item.get("intent_prediction") or {}).get("name") or "None"
    return predicted


def f1_report(pairs: list[tuple[str, str]]) -> tuple[float, float, dict[str, float]]:
    """Weighted F1, macro F1 and per-intent F1 of (expected, predicted) pairs."""
    intents = sorted({expected for expected, _ in pairs})
    support = Counter(expected for expected, _ in pairs)
    per_intent = {}
    for intent in intents:
        tp = sum(1 for e, p in pairs if e == intent and p == intent)
        fp = sum(1 for e, p in pairs if e != intent and p == intent)
        fn = support[intent] - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        per_intent[intent] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    weighted = sum(per_intent[i] * support[i] for i in intents) / len(pairs)
    macro = sum(per_intent.values()) / len(per_intent)
    return weighted, macro, per_intent


def bench_intents(split: list[list[Example]]) -> None:
    """Cross-validated intent F1 per language, over the given folds."""
    folds = len(split)
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    confusions: Counter[tuple[str, str, str]] = Counter()
    started = time.perf_counter()
    for k in range(folds):
        train = [example for i, fold in enumerate(split) if i != k for example in fold]
        with tempfile.TemporaryDirectory() as work:
            predicted = predict_fold(train, split[k], Path(work))
        for example in split[k]:
            guess = predicted.get(example.text, "None")
            pairs[example.language].append((example.intent, guess))
            if guess != example.intent:
                confusions[(example.language, example.intent, guess)] += 1
        print(f"  fold {k + 1}/{folds} done ({time.perf_counter() - started:.0f} s)", flush=True)
    for language in sorted(pairs):
        weighted, macro, per_intent = f1_report(pairs[language])
        print(f"{'intent F1, ' + language + f' ({len(pairs[language])} examples, {folds}-fold)':<52} "
              f"weighted {weighted:.3f}  macro {macro:.3f}")  # fmt: skip
        low = ", ".join(f"{i} {f:.2f}" for i, f in sorted(per_intent.items(), key=lambda x: x[1]) if f < 0.95)
        print(f"{'  intents under 0.95':<52} {low or 'none'}")
    worst = ", ".join(f"{lang} {e}→{p} ×{n}" for (lang, e, p), n in confusions.most_common(8))
    print(f"{'  most frequent confusions':<52} {worst or 'none'}")


def bench_language(examples: list[Example], split: list[list[Example]]) -> None:
    """Language detection accuracy (no hint, over the given folds) and cost per message."""
    folds = len(split)
    correct = total = 0
    for k in range(folds):
        train = [(e.text, e.language) for i, fold in enumerate(split) if i != k for e in fold]
        model = NaiveBayesLanguageModel.train(train, MAX_NGRAM)
        for example in split[k]:
            found, _ = detect(model, example.text, None, min_words=MIN_WORDS, min_margin=MIN_MARGIN)
            correct += found == example.language
            total += 1
    label = f"language detected, NLU examples ({folds}-fold, no hint)"
    print(f"{label:<52} {correct / total:7.3f}")
    model = NaiveBayesLanguageModel.train([(e.text, e.language) for e in examples], MAX_NGRAM)
    questions = read_questions(FINAL_QUESTIONS)
    right = sum(
        detect(model, q.q, None, min_words=MIN_WORDS, min_margin=MIN_MARGIN)[0] == q.lang for q in questions
    )
    print(f"{'language detected, kb-final questions (no hint)':<52} {right / len(questions):7.3f}")
    times = []
    for q in questions * 5:
        started = time.perf_counter()
        detect(model, q.q, None, min_words=MIN_WORDS, min_margin=MIN_MARGIN)
        times.append((time.perf_counter() - started) * 1e6)
    print(f"{'language detection per message':<52} p50={percentile(times, 50):7.1f} µs  "
          f"p95={percentile(times, 95):7.1f} µs")  # fmt: skip


def bench_nlu(folds: int = 5) -> None:
    """Both measures, on the same folds."""
    examples = read_examples()
    split = folds_of(examples, folds)
    bench_language(examples, split)
    bench_intents(split)
