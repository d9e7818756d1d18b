"""The billing service behind the actions, and who is talking (from the verified channel metadata).

Every billing call runs in a worker thread (``call``): the action server's event loop serves all
conversations and must never wait on the database.
"""
from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from abc import ABC, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from billing_core.domain.model import InvalidRequest
from billing_core.i18n import text
from billing_core.service.bootstrap import bootstrap
from billing_core.service.services import BillingService

T = TypeVar("T")
_service: BillingService | None = None


def service() -> BillingService:
    global _service
    if _service is None:
        _service = bootstrap()
    return _service


def use_service(replacement: BillingService | None) -> None:
    """Tests point the actions at their own database."""
    global _service
    _service = replacement


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(functools.partial(function, *args, **kwargs))


@dataclass(frozen=True)
class Caller:
    email: str
    account_id: str
    role: str
    name: str


async def caller(tracker: Tracker) -> Caller | None:
    """The signed-in user of this message, or None for an anonymous one.

    The channel put only verified token claims under metadata["user"]; the current role and
    account come from the billing database (a role may have changed since the token was issued).
    """
    claims = (tracker.latest_message.get("metadata") or {}).get("user")
    if not isinstance(claims, dict) or not claims.get("email"):
        return None
    try:
        who = await call(service().identity, claims["email"])
    except InvalidRequest:
        return None
    if who["account_id"] != claims.get("account_id"):
        return None
    return Caller(who["email"], who["account_id"], who["role"], who["name"])


class SignedInAction(Action, ABC):
    """An action about the caller's own account: anonymous users are told how to sign in."""

    @abstractmethod
    def name(self) -> str:
        """Each concrete action names itself."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        who = await caller(tracker)
        if who is None:
            self.answer_anonymous(dispatcher)
            return []
        return await self.run_for(who, dispatcher, tracker, domain)

    def answer_anonymous(self, dispatcher: CollectingDispatcher) -> None:
        """What an anonymous user is told instead (general answers only, never account data)."""
        dispatcher.utter_message(text=text("sign_in_needed"))

    @abstractmethod
    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        """The action for a signed-in caller."""
