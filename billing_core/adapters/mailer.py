"""Sending e-mail: order confirmations with the invoice PDF, notifications to people.

``Mailer`` is the port; pick an implementation with ``mailer_from_env``:

* ``OutboxMailer(directory)``: writes each message as an ``.eml`` file (dev/demo default,
  ``var/outbox/``; open it with any mail client);
* ``SmtpMailer(url)``: ``smtp://user:pass@host:port`` (plain), ``smtp+starttls://...``
  (STARTTLS, default port 587) or ``smtps://...`` (implicit TLS, default port 465);
* ``RecordingMailer``: keeps the messages in ``.sent`` (tests).

Environment: ``BILLING_SMTP_URL`` (unset or empty: the outbox).
"""
from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import uuid
from datetime import timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from billing_core import clock
from billing_core.domain.documents import DocumentLine, InvoiceDocument
from billing_core.formatting import format_date, format_eur
from billing_core.i18n import text

__all__ = [
    "Mailer", "MailDeliveryError", "OutboxMailer", "SmtpMailer", "RecordingMailer",
    "mailer_from_env", "build_order_confirmation", "invoice_filename", "SMTP_URL_ENV",
]

SMTP_URL_ENV = "BILLING_SMTP_URL"

log = logging.getLogger(__name__)


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` (or raise ``MailDeliveryError``)."""


class MailDeliveryError(RuntimeError):
    """The message could not be delivered (SMTP refused it, server unreachable, disk full...)."""


class OutboxMailer:
    """Writes each message to ``directory/<timestamp>-<id>.eml`` instead of sending it."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.last_path: Path | None = None  # the file written by the latest send()

    def send(self, message: EmailMessage) -> None:
        stamp = clock.now().strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        partial = path.with_suffix(".eml.part")  # never leave a half-written .eml behind
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(message.as_bytes(policy=SMTP_POLICY))
            partial.replace(path)
        except OSError as error:
            raise MailDeliveryError(f"impossibile scrivere l'e-mail in {self.directory}: {error}") from error
        self.last_path = path
        log.info("e-mail %r scritta in %s", message["Subject"], path)

    def __repr__(self) -> str:
        return f"OutboxMailer({str(self.directory)!r})"


class SmtpMailer:
    """Sends through an SMTP server given as a URL (user and password percent-encoded)."""

    _DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}

    def __init__(self, url: str, *, timeout: float = 10.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in self._DEFAULT_PORTS or not parts.hostname:
            raise ValueError(
                "URL SMTP non valido: usa smtp://, smtp+starttls:// o smtps://utente:password@host:porta"
            )
        self.scheme = scheme
        self.host = parts.hostname
        try:
            self.port = parts.port or self._DEFAULT_PORTS[scheme]
        except ValueError:
            raise ValueError("URL SMTP non valido: la porta deve essere un numero") from None
        self.username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.ssl_context = ssl_context

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def send(self, message: EmailMessage) -> None:
        try:
            if self.scheme == "smtps":
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context())
            else:
                server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with server:
                server.ehlo()
                if self.scheme == "smtp+starttls":
                    server.starttls(context=self._context())
                    server.ehlo()
                if self.username:
                    server.login(self.username, self._password or "")
                server.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            raise MailDeliveryError(
                f"invio e-mail tramite {self.host}:{self.port} non riuscito: {error}") from error

    def __repr__(self) -> str:  # never print the password
        user = f"{self.username}:***@" if self.username else ""
        return f"SmtpMailer('{self.scheme}://{user}{self.host}:{self.port}')"


class RecordingMailer:
    """Keeps every message in ``.sent`` (tests)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


def mailer_from_env(var_dir: Path) -> Mailer:
    """``SmtpMailer(BILLING_SMTP_URL)``, or ``OutboxMailer(var_dir / "outbox")`` when unset."""
    url = os.environ.get(SMTP_URL_ENV, "").strip()
    if url:
        return SmtpMailer(url)
    return OutboxMailer(Path(var_dir) / "outbox")


# --- Order confirmation ----------------------------------------------------------

def invoice_filename(number: str) -> str:
    """'2026/000123' -> 'fattura-2026-000123.pdf'."""
    return "fattura-" + re.sub(r"[^0-9A-Za-z_-]+", "-", number).strip("-") + ".pdf"


def _tax_rate(rate: Decimal) -> str:
    from billing_core.adapters.invoice_pdf import format_tax_rate  # one definition of "22%"

    return format_tax_rate(rate)


def _line_text(line: DocumentLine) -> str:
    rows = [text("email_line", description=line.description, amount=format_eur(line.amount))]
    if line.quantity != 1:
        rows.append(text("email_line_quantity", quantity=line.quantity,
                         unit_price=format_eur(line.unit_price)))
    details = []
    if line.start is not None and line.end is not None:
        # the end is exclusive (the renewal day): print the last day covered
        details.append(text("invoice_period", start=format_date(line.start),
                            end=format_date(line.end - timedelta(days=1))))
    if line.days is not None and line.period_days is not None:
        details.append(text("invoice_period_days", days=line.days, period_days=line.period_days))
    if details:
        rows.append(text("email_line_period", period=", ".join(details)))
    # text() strips its result, so the indentation of the detail rows is added here
    return "\n".join(rows[:1] + ["  " + row for row in rows[1:]])


def _totals_text(doc: InvoiceDocument) -> str:
    rows = [(text("invoice_taxable"), doc.taxable)]
    if doc.balance_applied:
        rows.insert(0, (text("invoice_net"), doc.net))
        rows.insert(1, (text("invoice_balance_applied"), -doc.balance_applied))
    rows.append((text("invoice_tax", rate=_tax_rate(doc.tax_rate)), doc.tax))
    rows.append((text("invoice_total"), doc.total))
    lines = [text("email_total_row", label=label, amount=format_eur(amount)) for label, amount in rows]
    if doc.tax_note:
        lines.append(doc.tax_note)
    return "\n".join(lines)


def build_order_confirmation(doc: InvoiceDocument, pdf: bytes, to: str, sender: str) -> EmailMessage:
    """The Italian order-confirmation e-mail, with the invoice PDF attached."""
    message = EmailMessage()
    message["Subject"] = text("email_order_confirmation_subject", number=doc.number)
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(clock.now())
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    status = (text("email_status_paid") if doc.status == "paid"
              else text("email_status_unpaid", due_on=format_date(doc.due_on)))
    body = text(
        "email_order_confirmation_body",
        customer=doc.customer.name,
        number=doc.number,
        issued_on=format_date(doc.issued_on),
        lines="\n".join(_line_text(line) for line in doc.lines),
        totals=_totals_text(doc),
        status=status,
        seller=doc.seller.name,
    )
    message.set_content(body + "\n")
    message.add_attachment(pdf, maintype="application", subtype="pdf",
                           filename=invoice_filename(doc.number))
    return message
