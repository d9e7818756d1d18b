"""EntityScope: an entity type never annotated under an intent is dropped for that intent."""
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.entity_scope import EntityScope


def example(text, intent, *entities):
    return Message(data={"text": text, "intent": intent,
                         "entities": [{"entity": e, "value": "x", "start": 0, "end": 1} for e in entities]})


@pytest.fixture
def trained(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("entity_scope")
    scope = EntityScope.create({}, storage, resource, None)
    scope.train(TrainingData([
        example("aggiungi 2 licenze", "add_licenses", "quantity"),
        example("il Business richiede 10 licenze?", "faq", "plan"),
        example("che tempo fa?", "out_of_scope"),
    ]))
    return storage, resource, scope


def parsed(intent, *entities):
    message = Message(data={"text": "t", "intent": {"name": intent, "confidence": 0.9}})
    message.set("entities", [{"entity": e, "value": "v", "start": 0, "end": 1} for e in entities])
    return message


def kept(scope, message):
    scope.process([message])
    return [e["entity"] for e in message.get("entities")]


def test_entity_types_seen_with_the_intent_are_kept(trained):
    _, _, scope = trained
    assert kept(scope, parsed("add_licenses", "quantity")) == ["quantity"]
    assert kept(scope, parsed("faq", "plan")) == ["plan"]


def test_entity_types_never_seen_with_the_intent_are_dropped(trained):
    _, _, scope = trained
    assert kept(scope, parsed("faq", "plan", "quantity")) == ["plan"]
    assert kept(scope, parsed("out_of_scope", "plan", "quantity")) == []


def test_unknown_intent_keeps_everything(trained):
    _, _, scope = trained
    assert kept(scope, parsed("nlu_fallback", "quantity")) == ["quantity"]


def test_the_scope_survives_persistence(trained):
    storage, resource, _ = trained
    loaded = EntityScope.load({}, storage, resource, None)
    assert kept(loaded, parsed("faq", "plan", "quantity")) == ["plan"]


def test_an_untrained_scope_keeps_everything(tmp_path):
    scope = EntityScope.load({}, LocalModelStorage(tmp_path), Resource("missing"), None)
    assert kept(scope, parsed("out_of_scope", "plan")) == ["plan"]
