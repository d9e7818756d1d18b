"""Telling the account executive that the assistant handed a conversation over.

``Notifier`` is the port. Implementations: ``SlackWebhookNotifier`` (Slack incoming webhook),
``EmailNotifier`` (an e-mail to the account executive through a ``Mailer``),
``RecordingNotifier`` (tests) and ``CompositeNotifier`` (all of the above in turn).

``notifier_from_env(mailer)`` always e-mails the AE and also posts to Slack when
``BILLING_HANDOFF_SLACK_WEBHOOK_URL`` is set. The e-mail sender is ``BILLING_MAIL_FROM``
or ``DEFAULT_SENDER``.
"""
from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formataddr, format_datetime, make_msgid, parseaddr
from typing import Iterable, Protocol
from urllib.parse import urlsplit

from billing_core import clock
from billing_core.adapters.mailer import MailDeliveryError, Mailer
from billing_core.domain.documents import HandoffSummary
from billing_core.formatting import plural
from billing_core.i18n import has_text, text

__all__ = [
    "Notifier", "NotificationError", "SlackWebhookNotifier", "EmailNotifier", "RecordingNotifier",
    "CompositeNotifier", "notifier_from_env", "handoff_subject", "handoff_text",
    "SLACK_WEBHOOK_ENV", "MAIL_FROM_ENV", "DEFAULT_SENDER",
]

SLACK_WEBHOOK_ENV = "BILLING_HANDOFF_SLACK_WEBHOOK_URL"
MAIL_FROM_ENV = "BILLING_MAIL_FROM"
DEFAULT_SENDER = "Assistente fatturazione <fatturazione@localhost>"

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def notify_handoff(self, summary: HandoffSummary) -> None:
        """Tell the account executive (or raise ``NotificationError``)."""


class NotificationError(RuntimeError):
    """The notification could not be delivered."""


def reason_label(reason: str) -> str:
    """'enterprise' -> 'piano Enterprise'; an unknown code is shown as it is."""
    key = f"handoff_reason_{reason}"
    return text(key) if has_text(key) else reason


def handoff_subject(summary: HandoffSummary) -> str:
    """One line (e-mail headers cannot hold newlines, whatever the account name contains)."""
    subject = text("handoff_subject", handoff_id=summary.handoff_id,
                   account_name=summary.account_name, reason=reason_label(summary.reason))
    return " ".join(subject.split())


def handoff_text(summary: HandoffSummary, escape=lambda value: value) -> str:
    """The Italian notification body; ``escape`` is applied to every value from the data."""
    messages = [text("handoff_last_message", message=escape(message))
                for message in summary.last_messages]
    return text(
        "handoff_message",
        account_executive_name=escape(summary.account_executive_name),
        handoff_id=summary.handoff_id,
        account_name=escape(summary.account_name),
        account_id=escape(summary.account_id),
        plan=escape(summary.plan),
        licenses=plural(summary.licenses, "licenza", "licenze"),
        requested_by=escape(summary.requested_by),
        reason=escape(reason_label(summary.reason)),
        request_text=escape(summary.request_text),
        last_messages="\n".join(messages) or text("handoff_no_messages"),
    )


def _slack_escape(value: str) -> str:
    """Slack mrkdwn control characters: user text must not become links or @channel pings."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackWebhookNotifier:
    """POSTs ``{"text": ...}`` to a Slack incoming-webhook URL."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        if urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).hostname:
            raise ValueError("URL del webhook Slack non valido: deve iniziare con https://")
        self._url = url  # a secret: never logged nor put in error messages
        self.timeout = timeout

    def notify_handoff(self, summary: HandoffSummary) -> None:
        payload = {"text": handoff_text(summary, escape=_slack_escape)}
        request = urllib.request.Request(
            self._url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            raise NotificationError(
                f"Slack ha rifiutato la notifica della richiesta n. {summary.handoff_id} "
                f"(HTTP {error.code})") from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise NotificationError(
                f"notifica Slack della richiesta n. {summary.handoff_id} non riuscita: {reason}"
            ) from error
        if not 200 <= status < 300:
            raise NotificationError(
                f"Slack ha risposto HTTP {status} alla notifica della richiesta n. {summary.handoff_id}")

    def __repr__(self) -> str:
        return f"SlackWebhookNotifier('{urlsplit(self._url).hostname}/…')"


class EmailNotifier:
    """E-mails the account executive through ``mailer``."""

    def __init__(self, mailer: Mailer, sender: str) -> None:
        self.mailer = mailer
        self.sender = sender

    def build_message(self, summary: HandoffSummary) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = handoff_subject(summary)
        message["From"] = self.sender
        message["To"] = formataddr((summary.account_executive_name, summary.account_executive_email))
        message["Reply-To"] = summary.requested_by
        message["Date"] = format_datetime(clock.now())
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(domain=domain)
        message.set_content(handoff_text(summary) + "\n")
        return message

    def notify_handoff(self, summary: HandoffSummary) -> None:
        try:
            self.mailer.send(self.build_message(summary))
        except (MailDeliveryError, OSError) as error:
            raise NotificationError(
                f"e-mail all'account executive per la richiesta n. {summary.handoff_id} "
                f"non inviata: {error}") from error


class RecordingNotifier:
    """Keeps every summary in ``.sent`` (tests)."""

    def __init__(self) -> None:
        self.sent: list[HandoffSummary] = []

    def notify_handoff(self, summary: HandoffSummary) -> None:
        self.sent.append(summary)


class CompositeNotifier:
    """Notifies through every notifier, even when one fails; then reports the failures."""

    def __init__(self, notifiers: Iterable[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def notify_handoff(self, summary: HandoffSummary) -> None:
        failures: list[NotificationError] = []
        for notifier in self.notifiers:
            try:
                notifier.notify_handoff(summary)
            except NotificationError as error:
                log.warning("notifica non riuscita (%r): %s", notifier, error)
                failures.append(error)
        if failures:
            delivered = len(self.notifiers) - len(failures)
            raise NotificationError(
                "; ".join(str(error) for error in failures)
                + f" (notifiche riuscite: {delivered} su {len(self.notifiers)})"
            ) from failures[0]


def notifier_from_env(mailer: Mailer, sender: str | None = None) -> Notifier:
    """E-mail to the AE, plus Slack when ``BILLING_HANDOFF_SLACK_WEBHOOK_URL`` is set."""
    sender = sender or os.environ.get(MAIL_FROM_ENV, "").strip() or DEFAULT_SENDER
    notifiers: list[Notifier] = [EmailNotifier(mailer, sender)]
    webhook = os.environ.get(SLACK_WEBHOOK_ENV, "").strip()
    if webhook:
        notifiers.append(SlackWebhookNotifier(webhook))
    return CompositeNotifier(notifiers)
