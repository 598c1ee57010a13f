"""Language detection as a Rasa NLU component.

Detecting the language inside Rasa's NLU pipeline costs no extra round trip: the
detected language becomes a ``language`` entity, which fills the ``language``
slot (``from_entity`` mapping), on which every response's conditional variations
depend.

The model is a multinomial naive Bayes over character n-grams, trained on the
NLU examples themselves: each intent block of ``training_data/nlu/<lang>.yml``
carries ``metadata: {language: <lang>}``. It needs nothing beyond the Python
standard library, so it runs in Rasa's own environment.

Short or ambiguous messages ("ok", "merci", "carte grise") keep the
conversation's language: the Guichet API passes it as the message metadata
``{"language": "fr"|"en"}`` and the component falls back on it whenever it is
unsure or the message has too few words to judge.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.language_model import NaiveBayesLanguageModel, detect

logger = logging.getLogger(__name__)

ENTITY_NAME = "language"
MODEL_FILE = "language_model.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Adds a ``language`` entity (``fr`` or ``en``) to each user message."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults: n-grams up to 4, short messages under 3 words keep the hint."""
        return {"max_ngram": 4, "min_words": 3, "min_margin": 0.05, "languages": ["fr", "en"]}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: NaiveBayesLanguageModel | None = None,
    ) -> None:
        """Creates the component (untrained unless ``model`` is given)."""
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
    ) -> LanguageDetector:
        """Creates an untrained component."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learns n-gram profiles from examples whose intent metadata names a language."""
        languages = set(self._config["languages"])
        examples: list[tuple[str, str]] = []
        for message in training_data.intent_examples:
            metadata = message.get("metadata") or {}
            lang = (metadata.get("intent") or {}).get("language") or (metadata.get("example") or {}).get(
                "language"
            )
            if lang in languages:
                examples.append((message.get(TEXT), lang))
        found = {lang for _, lang in examples}
        if found != languages:
            raise ValueError(
                f"LanguageDetector needs NLU examples for each of {sorted(languages)} "
                f"(intent metadata 'language'); found {sorted(found)}"
            )
        self._model = NaiveBayesLanguageModel.train(examples, int(self._config["max_ngram"]))
        with self._model_storage.write_to(self._resource) as directory:
            (directory / MODEL_FILE).write_text(json.dumps(self._model.to_json()), encoding="utf-8")
        logger.info("LanguageDetector trained on %d examples", len(examples))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LanguageDetector:
        """Loads the trained n-gram profiles."""
        try:
            with model_storage.read_from(resource) as directory:
                data = json.loads((directory / MODEL_FILE).read_text(encoding="utf-8"))
            return cls(config, model_storage, resource, NaiveBayesLanguageModel.from_json(data))
        except (ValueError, FileNotFoundError):
            logger.warning("LanguageDetector: no trained model found, messages keep their hint")
            return cls(config, model_storage, resource)

    def process(self, messages: list[Message]) -> list[Message]:
        """Adds the ``language`` entity to each message where a language is decided."""
        for message in messages:
            metadata = message.get("metadata") or {}
            hint = metadata.get("language") if isinstance(metadata, dict) else None
            if hint not in self._config["languages"]:
                hint = None
            text = message.get(TEXT) or ""
            if self._model is None:
                language, confidence = hint, 1.0
            else:
                language, confidence = detect(
                    self._model,
                    text,
                    hint,
                    min_words=int(self._config["min_words"]),
                    min_margin=float(self._config["min_margin"]),
                )
            if language is None:
                continue
            entity = {
                "entity": ENTITY_NAME,
                "value": language,
                "start": 0,
                "end": len(text),
                "confidence": round(confidence, 4),
            }
            message.set(
                ENTITIES,
                message.get(ENTITIES, []) + self.add_extractor_name([entity]),
                add_to_output=True,
            )
        return messages
