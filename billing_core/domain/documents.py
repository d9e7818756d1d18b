"""What the adapters render or send: invoices and handoff summaries, as plain frozen data.

Pure dataclasses, no I/O: the service layer builds them from the ledger, the adapters
(``adapters/invoice_pdf.py``, ``adapters/mailer.py``, ``adapters/notifier.py``) present them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Party:
    """Seller or customer as printed on an invoice."""

    name: str
    address: str  # may contain newlines
    country: str  # ISO code, e.g. "IT", "DE"
    vat_id: str | None  # partita IVA, e.g. "IT01234567890"
    fiscal_code: str | None  # codice fiscale
    email: str | None = None


@dataclass(frozen=True)
class DocumentLine:
    """One invoice line: a charge or a (prorated) credit."""

    description: str  # Italian, e.g. "Business, credito per i giorni non usati"
    kind: str  # "charge" | "credit"
    quantity: int
    unit_price: Decimal
    start: date | None
    end: date | None  # exclusive end of the covered period
    days: int | None
    period_days: int | None
    amount: Decimal  # negative for credits


@dataclass(frozen=True)
class InvoiceDocument:
    """An issued invoice, with every amount already computed (adapters never compute money)."""

    number: str  # "2026/000123"
    issued_on: date
    due_on: date
    seller: Party
    customer: Party
    lines: tuple[DocumentLine, ...]
    net: Decimal  # sum of lines
    balance_applied: Decimal  # account credit used (>= 0)
    taxable: Decimal
    tax_rate: Decimal  # Decimal("0.22") or Decimal("0")
    tax: Decimal
    total: Decimal
    tax_note: str | None  # e.g. "Inversione contabile - art. 7-ter DPR 633/1972" for reverse charge
    status: str  # "paid" | "unpaid"
    currency: str = "EUR"


@dataclass(frozen=True)
class HandoffSummary:
    """What the account executive needs to pick up a conversation handed off by the bot."""

    handoff_id: int
    account_id: str
    account_name: str
    plan: str
    licenses: int
    requested_by: str  # e-mail
    reason: str  # e.g. "enterprise", "sales_managed", "request_human"
    request_text: str  # what the user asked
    last_messages: tuple[str, ...]
    account_executive_name: str
    account_executive_email: str
