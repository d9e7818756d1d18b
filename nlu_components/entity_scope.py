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
from pathlib import Path
from typing import Dict, List, Optional, Set, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_TYPE, INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.base import StoredModelComponent

@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class EntityScope(StoredModelComponent):
    """Keeps an entity only if its type occurs with the predicted intent in the training data."""

    MODEL_FILE = "entity_scope.json"

    def train(self, training_data: TrainingData) -> Resource:
        scope: Dict[Text, Set[Text]] = {}
        for example in training_data.intent_examples:
            types = scope.setdefault(example.get(INTENT), set())
            types.update(e[ENTITY_ATTRIBUTE_TYPE] for e in example.get(ENTITIES) or [])
        self._model = scope
        self.persist()
        return self._resource

    def write_model(self, path: Path) -> None:
        path.write_text(json.dumps({k: sorted(v) for k, v in self._model.items()}, indent=1), encoding="utf-8")

    @classmethod
    def read_model(cls, path: Path) -> Dict[Text, Set[Text]]:
        return {k: set(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}

    def allowed(self, intent: Optional[Text], entity_type: Text) -> bool:
        """Whether an entity of this type is kept for a message with this intent."""
        if self._model is None or intent not in self._model:
            return True  # nothing learned about this intent: do not guess
        return entity_type in self._model[intent]

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            entities = message.get(ENTITIES) or []
            kept = [e for e in entities if self.allowed(intent, e[ENTITY_ATTRIBUTE_TYPE])]
            if len(kept) != len(entities):
                message.set(ENTITIES, kept, add_to_output=True)
        return messages
