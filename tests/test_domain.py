"""domain.yml slot mappings: a value named in a question never becomes the value of a change."""
import asyncio
from pathlib import Path

import pytest
from rasa.core.actions.action import ActionExtractSlots
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[1] / "domain.yml"))


def slots_set(intent: str, entities: list) -> dict:
    tracker = DialogueStateTracker.from_events("t", [
        UserUttered("...", intent={"name": intent, "confidence": 0.9}, entities=entities)], DOMAIN.slots)
    events = asyncio.run(ActionExtractSlots(None).run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(DOMAIN.responses), tracker, DOMAIN))
    return {e.key: e.value for e in events if isinstance(e, SlotSet)}


ENTITIES = [
    {"entity": "plan", "value": "business"},
    {"entity": "billing_cycle", "value": "annual"},
    {"entity": "addon", "value": "webinar"},
    {"entity": "quantity", "value": "12"},
    {"entity": "email", "value": "giulia@acme.it"},
]


@pytest.mark.parametrize("intent", ["faq", "check_plan", "check_invoices", "out_of_scope", "help",
                                    "request_human", "remove_cart_item", "more_participants"])
def test_question_intents_fill_no_change_slot(intent):
    assert slots_set(intent, ENTITIES) == {}


@pytest.mark.parametrize("intent, entity, slot", [
    ("change_billing_cycle", {"entity": "billing_cycle", "value": "annual"}, "billing_cycle"),
    ("upgrade_plan", {"entity": "plan", "value": "business"}, "plan"),
    ("buy_addon", {"entity": "addon", "value": "webinar"}, "addon"),
    ("add_licenses", {"entity": "quantity", "value": "3"}, "quantity"),
    ("inform", {"entity": "quantity", "value": "15"}, "quantity"),
    ("assign_license", {"entity": "email", "value": "giulia@acme.it"}, "email"),
])
def test_change_intents_and_answers_fill_their_slot(intent, entity, slot):
    assert slots_set(intent, [entity]).get(slot) == entity["value"]
