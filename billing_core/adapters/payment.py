"""Payment gateway interface and the local simulated card used in demos and tests."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

DECLINING_CARD = "tok_decline"


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str
    decline_reason: str | None = None


class PaymentGateway(Protocol):
    def charge(self, card_token: str, amount: Decimal, idempotency_key: str) -> ChargeResult:
        """Charge the card on file; the same idempotency key never charges twice."""


class SimulatedCardGateway:
    """Approves every card but ``tok_decline``; remembers keys so a retry is not a second charge."""

    def __init__(self) -> None:
        self.charges: dict[str, tuple[str, Decimal, ChargeResult]] = {}

    def charge(self, card_token: str, amount: Decimal, idempotency_key: str) -> ChargeResult:
        if idempotency_key in self.charges:
            return self.charges[idempotency_key][2]
        reference = "sim_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        if card_token == DECLINING_CARD:
            result = ChargeResult(False, reference, "card_declined")
        else:
            result = ChargeResult(True, reference)
        self.charges[idempotency_key] = (card_token, amount, result)
        return result
