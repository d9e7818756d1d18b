"""What the project's NLU components share: how Rasa builds them and how a trained one is stored.

Rasa builds every graph component through `create(config, model_storage, resource,
execution_context)` and rebuilds trained ones through `load(...)` with the same arguments;
these two classes give that protocol one implementation instead of one per component.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

logger = logging.getLogger(__name__)

# A training message's second sentence vector, from an encoder that had not seen the sentence
# (E5SentenceFeaturizer's cross-fitting); HybridIntentClassifier learns from both. No Rasa
# component reads this attribute, so it never reaches the ResponseSelector or the CRF.
HELD_OUT_TEXT = "text_held_out"


class ProjectComponent(GraphComponent):
    """A component built from Rasa's four constructor arguments, kept as attributes."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def __init__(
        self,
        config: Optional[Dict[Text, Any]] = None,
        model_storage: Optional[ModelStorage] = None,
        resource: Optional[Resource] = None,
        execution_context: Optional[ExecutionContext] = None,
    ) -> None:
        # config may be None when a Rasa base class (e.g. Featurizer) sets it itself
        self._config = config or {}
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ProjectComponent":
        return cls(config, model_storage, resource, execution_context)


class StoredModelComponent(ProjectComponent):
    """A trained component whose model (`self._model`) is one file in Rasa's model storage.

    Subclasses name the file (`MODEL_FILE`) and say how to write and read it.
    """

    MODEL_FILE: Text = "model"
    _model: Any = None  # set by training or by `load`

    def write_model(self, path: Path) -> None:
        raise NotImplementedError

    @classmethod
    def read_model(cls, path: Path) -> Any:
        raise NotImplementedError

    def loaded(self) -> None:
        """Called once the stored model is in `self._model` (e.g. to warm it up)."""

    def persist(self) -> None:
        if self._model is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            self.write_model(directory / self.MODEL_FILE)

    # keep the parameters named: Rasa's training graph passes `load` only the arguments
    # its signature names (`minimal_kwargs`); `*args` would lose the trained resource
    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "StoredModelComponent":
        try:
            with model_storage.read_from(resource) as directory:
                model = cls.read_model(directory / cls.MODEL_FILE)
        except (ValueError, FileNotFoundError) as error:
            # an untrained component (e.g. fewer than two intents) predicts nothing
            logger.warning(f"{cls.__name__}: no trained model loaded ({error}).")
            model = None
        component = cls(config, model_storage, resource, execution_context)
        component._model = model
        component.loaded()
        return component
