"""The change form's questions with choice buttons (plan, cycle, add-on, capacity)."""
from __future__ import annotations

from abc import ABC, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from billing_core.i18n import text

CHOICES = {
    "plan": [("Pro", "pro"), ("Business", "business"), ("Enterprise", "enterprise")],
    "billing_cycle": [("Mensile", "monthly"), ("Annuale", "annual")],
    "addon": [("Webinar", "webinar"), ("Large Meeting", "large_meeting"), ("Cloud Recording 1 TB", "cloud_recording")],
    "capacity": [("500", "500"), ("1000", "1000")],
}


class _AskWithButtons(Action, ABC):
    @property
    @abstractmethod
    def slot(self) -> str:
        """The form slot this action asks for."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=text(f"ask_{self.slot}"), buttons=[
            {"title": title, "payload": f'/inform{{"{self.slot}": "{value}"}}'} for title, value in CHOICES[self.slot]])
        return []


class ActionAskPlan(_AskWithButtons):
    slot = "plan"  # type: ignore[assignment]


class ActionAskBillingCycle(_AskWithButtons):
    slot = "billing_cycle"  # type: ignore[assignment]


class ActionAskAddon(_AskWithButtons):
    slot = "addon"  # type: ignore[assignment]


class ActionAskCapacity(_AskWithButtons):
    slot = "capacity"  # type: ignore[assignment]
