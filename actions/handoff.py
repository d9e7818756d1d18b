"""Handoff to the account executive: stored with a summary, notified once, the user told what's next."""
from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.runtime import Caller, SignedInAction, call, service
from billing_core.i18n import text

RECENT_MESSAGES = 10


def offer_handoff(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(text=text("blocked_handoff_offer"),
                             buttons=[{"title": text("button_human"), "payload": "/request_human"}])


def recent_messages(tracker: Tracker) -> list[str]:
    lines = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            lines.append(f"Utente: {event['text']}")
        elif event.get("event") == "bot" and event.get("text"):
            lines.append(f"Assistente: {event['text']}")
    return lines[-RECENT_MESSAGES:]


async def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, who: Caller, reason: str) -> None:
    result = await call(service().request_handoff, who.account_id, who.email, reason,
                        tracker.latest_message.get("text") or "", recent_messages(tracker),
                        channel=tracker.get_latest_input_channel() or "chat")
    key = "handoff_created" if result.created else "handoff_existing"
    dispatcher.utter_message(text=text(key, ae_name=result.account_executive_name,
                                       ae_email=result.account_executive_email, hours=result.callback_hours))


class ActionHandoff(SignedInAction):
    def name(self) -> str:
        return "action_handoff"

    def answer_anonymous(self, dispatcher: CollectingDispatcher) -> None:
        dispatcher.utter_message(text=text("handoff_anonymous",
                                           sales_email=service().catalog.default_account_executive.email))

    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        blockers = await call(service().edit_blockers, who.account_id)
        reason = "sales_managed" if any(b.code == "sales_managed" for b in blockers) else "request_human"
        await hand_off(dispatcher, tracker, who, reason)
        return []
