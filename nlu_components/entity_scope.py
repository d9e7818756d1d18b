"""Drops entities of a type the training data never annotates under the predicted intent.

The tagger sees words, not intents: "10 licenze" looks the same in "aggiungi 10 licenze"
(a quantity to buy) and in "il Business richiede 10 licenze?" (a question, where the number
is nobody's order). The data says which entity types each intent carries: `quantity` occurs
under the licence intents and `inform`, never under `faq`; nothing occurs under
`out_of_scope`. This component learns those (intent, entity type) pairs at training time
and, at run time, removes the entities whose type never occurred with the message's intent.
It must come after the intent classifier and the entity extractors in the pipeline.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Set, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_TYPE, INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

SCOPE_FILE = "entity_scope.json"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class EntityScope(GraphComponent):
    """Keeps an entity only if its type occurs with the predicted intent in the training data."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def __init__(
        self,
        model_storage: ModelStorage,
        resource: Resource,
        scope: Optional[Dict[Text, Set[Text]]] = None,
    ) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._scope = scope

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EntityScope":
        return cls(model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        scope: Dict[Text, Set[Text]] = {}
        for example in training_data.intent_examples:
            types = scope.setdefault(example.get(INTENT), set())
            types.update(e[ENTITY_ATTRIBUTE_TYPE] for e in example.get(ENTITIES) or [])
        self._scope = scope
        with self._model_storage.write_to(self._resource) as directory:
            (directory / SCOPE_FILE).write_text(
                json.dumps({k: sorted(v) for k, v in scope.items()}, indent=1), encoding="utf-8"
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "EntityScope":
        try:
            with model_storage.read_from(resource) as directory:
                raw = json.loads((directory / SCOPE_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            return cls(model_storage, resource)
        return cls(model_storage, resource, {k: set(v) for k, v in raw.items()})

    def allowed(self, intent: Optional[Text], entity_type: Text) -> bool:
        """Whether an entity of this type is kept for a message with this intent."""
        if self._scope is None or intent not in self._scope:
            return True  # nothing learned about this intent: do not guess
        return entity_type in self._scope[intent]

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            entities = message.get(ENTITIES) or []
            kept = [e for e in entities if self.allowed(intent, e[ENTITY_ATTRIBUTE_TYPE])]
            if len(kept) != len(entities):
                message.set(ENTITIES, kept, add_to_output=True)
        return messages
