"""A conversation driver for action tests: keeps slots and events the way Rasa would."""
from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

DOMAIN: dict = {"slots": {}, "forms": {"change_form": {"required_slots": ["license_total"]}}}


def user_of(service, email: str | None) -> dict | None:
    if email is None:
        return None
    who = service.identity(email)
    return {"email": who["email"], "account_id": who["account_id"], "role": who["role"]}


class Chat:
    """One conversation: keeps slots and events the way Rasa would, runs actions, records replies."""

    def __init__(self, service, email: str | None, sender: str = "conv-1") -> None:
        self.service = service
        self.user = user_of(service, email)
        self.slots: dict[str, Any] = {}
        self.events: list[dict] = []
        self.sender = sender
        self.message: dict = {}
        self.replies: list[dict] = []
        self.active_loop: dict = {}

    def say(self, text: str, intent: str, entities: dict | list | None = None, ranking: list | None = None) -> "Chat":
        if isinstance(entities, dict):
            entities = [{"entity": k, "value": v} for k, v in entities.items()]
        metadata = {"user": self.user} if self.user else {}
        self.message = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
                        "intent_ranking": ranking or [], "metadata": metadata}
        self.events.append({"event": "user", "text": text, "parse_data": self.message, "metadata": metadata})
        self.replies = []  # what the assistant answers to this message, across its actions
        for entity in self.message["entities"]:  # what action_extract_slots does for from_entity slots
            if entity["entity"] in ("plan", "billing_cycle", "addon", "quantity", "email"):
                self.slots[entity["entity"]] = entity["value"]
        return self

    def tracker(self) -> Tracker:
        return Tracker(self.sender, dict(self.slots), self.message, list(self.events), False, None,
                       dict(self.active_loop), "action_listen")

    def run(self, action) -> list:
        dispatcher = CollectingDispatcher()
        events = asyncio.run(action.run(dispatcher, self.tracker(), DOMAIN))
        self._apply(events)
        self.replies += dispatcher.messages
        for reply in dispatcher.messages:
            self.events.append({"event": "bot", "text": reply.get("text")})
        return events

    def validate_form(self, form) -> list:
        """The form validation step: custom extraction of this turn plus validate_<slot>."""
        dispatcher = CollectingDispatcher()
        tracker = self.tracker()
        events = []
        for slot in ("license_total", "capacity"):
            extracted = asyncio.run(getattr(form, f"extract_{slot}")(dispatcher, tracker, DOMAIN))
            events += [SlotSet(k, v) for k, v in extracted.items()]
        self._apply(events)
        tracker = self.tracker()
        for slot in ("capacity", "addon", "plan", "billing_cycle"):
            if self.slots.get(slot) is not None:
                validated = getattr(form, f"validate_{slot}")(self.slots[slot], dispatcher, tracker, DOMAIN)
                self._apply([SlotSet(k, v) for k, v in validated.items()])
        self.replies += dispatcher.messages
        return events

    def _apply(self, events) -> None:
        for event in events or []:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
            elif event.get("event") == "active_loop":
                self.active_loop = {"name": event["name"]} if event.get("name") else {}

    @property
    def text(self) -> str:
        return "\n".join(r.get("text") or "" for r in self.replies)

    @property
    def buttons(self) -> list[dict]:
        return [b for r in self.replies for b in r.get("buttons") or []]
