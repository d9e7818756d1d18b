"""Low NLU confidence: offer the two likeliest intents; twice in a row, offer the account executive."""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from billing_core.i18n import has_text, text

SKIPPED = {"nlu_fallback", "out_of_scope", "affirm", "deny", "greet", "goodbye", "thank", "inform"}
# "grazie, ciao" is unsure only between harmless answers: give the likeliest, no buttons
SMALL_TALK = {"greet": "utter_greet", "goodbye": "utter_goodbye", "thank": "utter_thank"}
# an intent less likely than this is no choice worth a button
MIN_CHOICE_CONFIDENCE = 0.05


def small_talk_response(ranking: list[dict]) -> str | None:
    """The response for a doubt only between greeting, thanks and goodbye ("grazie, ciao"), else None."""
    likely = [c["name"] for c in ranking
              if c.get("name") != "nlu_fallback" and c.get("confidence", 0.0) >= MIN_CHOICE_CONFIDENCE]
    if likely and all(name in SMALL_TALK for name in likely[:2]):
        return SMALL_TALK[likely[0]]
    return None


def consecutive_fallbacks(tracker: Tracker) -> int:
    """Messages in a row the assistant did not understand (small talk it answered does not count)."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        parse_data = event.get("parse_data") or {}
        if parse_data.get("intent", {}).get("name") != "nlu_fallback":
            break
        if small_talk_response(parse_data.get("intent_ranking") or []) is None:
            count += 1
    return count


class ActionFallbackButtons(Action):
    def name(self) -> str:
        return "action_fallback_buttons"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ranking = tracker.latest_message.get("intent_ranking", [])
        response = small_talk_response(ranking)
        if response:
            dispatcher.utter_message(response=response)
            return [UserUtteranceReverted()]
        if consecutive_fallbacks(tracker) >= 2:
            dispatcher.utter_message(text=text("fallback_human"), buttons=[
                {"title": text("button_human"), "payload": "/request_human"},
                {"title": text("button_rephrase"), "payload": "/help"}])
            return [UserUtteranceReverted()]
        choices = []
        for candidate in ranking:
            name = (candidate.get("name") or "").split("/")[0]
            if name in SKIPPED or name in [c[0] for c in choices] or not has_text(f"intent_label_{name}"):
                continue
            if candidate.get("confidence", 0.0) < MIN_CHOICE_CONFIDENCE:
                break
            choices.append((name, text(f"intent_label_{name}")))
            if len(choices) == 2:
                break
        if not choices:
            dispatcher.utter_message(text=text("fallback_human"), buttons=[
                {"title": text("button_human"), "payload": "/request_human"}])
            return [UserUtteranceReverted()]
        dispatcher.utter_message(text=text("fallback_choices" if len(choices) > 1 else "fallback_choice"), buttons=[
            {"title": label, "payload": f"/{name}"} for name, label in choices])
        return [UserUtteranceReverted()]


class ActionCoreFallback(Action):
    """The dialogue policies are unsure what to do next: say so in Italian and undo the message."""

    def name(self) -> str:
        return "action_core_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=text("core_fallback"))
        return [UserUtteranceReverted()]
