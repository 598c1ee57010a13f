"""Intent classification by logistic regression over character n-grams and sentence embeddings.

Measured by cross-validation on the project's NLU data (``benchmarks/nlu.py``, ADR 0009): DIET, trained from
scratch on about 1,400 examples per language, generalises worse than a linear model over two fixed views of
a message: TF-IDF of its character n-grams (typos, missing accents, word forms) and the multilingual
Universal Sentence Encoder's embedding (meaning, paraphrases) that ``SentenceEncoderFeaturizer`` adds. It
also needs no TensorFlow at prediction time, which makes ``/model/parse`` several times faster.

The model is scikit-learn's: ``TfidfVectorizer`` + ``LogisticRegression``, saved with joblib.
"""

from __future__ import annotations

import logging
from typing import Any

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_intent_classifier.joblib"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Predicts intents with a logistic regression over character n-grams and the sentence embedding."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults chosen by cross-validation (benchmarks/nlu.py)."""
        return {
            "min_ngram": 1,
            "max_ngram": 4,
            "embedding_weight": 2.0,
            "C": 10.0,
            "max_iter": 1000,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: tuple[TfidfVectorizer, LogisticRegression] | None = None,
    ) -> None:
        """Creates the classifier (untrained unless ``model`` is given)."""
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        """Creates an untrained classifier."""
        return cls(config, model_storage, resource)

    def _features(self, vectorizer: TfidfVectorizer, messages: list[Message]) -> csr_matrix:
        """Character n-gram TF-IDF beside the weighted sentence embedding, one row per message."""
        ngrams = vectorizer.transform([message.get(TEXT) or "" for message in messages])
        rows = []
        for message in messages:
            _, sentence = message.get_dense_features(TEXT)
            rows.append(sentence.features.reshape(-1) if sentence is not None else None)
        width = next((len(row) for row in rows if row is not None), 0)
        dense = np.array([row if row is not None else np.zeros(width) for row in rows], dtype=np.float32)
        return hstack([ngrams, csr_matrix(dense * float(self._config["embedding_weight"]))]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the vectorizer and the regression on the intent examples."""
        examples = [message for message in training_data.intent_examples if message.get(TEXT)]
        labels = [message.get(INTENT) for message in examples]
        if len(set(labels)) < 2:
            raise ValueError("LinearIntentClassifier needs examples of at least two intents")
        vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(int(self._config["min_ngram"]), int(self._config["max_ngram"])),
            sublinear_tf=True,
        )
        vectorizer.fit([message.get(TEXT) for message in examples])
        classifier = LogisticRegression(
            C=float(self._config["C"]), max_iter=int(self._config["max_iter"]), class_weight="balanced"
        )
        classifier.fit(self._features(vectorizer, examples), labels)
        self._model = (vectorizer, classifier)
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self._model, directory / MODEL_FILE)
        logger.info("LinearIntentClassifier: %d examples, %d intents", len(examples), len(set(labels)))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        """Loads the trained vectorizer and regression."""
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(directory / MODEL_FILE)
            return cls(config, model_storage, resource, model)
        except (ValueError, FileNotFoundError):
            logger.warning("LinearIntentClassifier: no trained model found, no intent will be predicted")
            return cls(config, model_storage, resource)

    def process(self, messages: list[Message]) -> list[Message]:
        """Sets each message's intent and intent ranking."""
        if self._model is None:
            return messages
        with_text = [message for message in messages if message.get(TEXT)]
        if not with_text:
            return messages
        vectorizer, classifier = self._model
        probabilities = classifier.predict_proba(self._features(vectorizer, with_text))
        length = int(self._config["ranking_length"])
        for message, row in zip(with_text, probabilities, strict=True):
            order = np.argsort(-row)[:length]
            ranking = [{"name": str(classifier.classes_[i]), "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
