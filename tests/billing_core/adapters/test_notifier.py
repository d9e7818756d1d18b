"""Handoff notifications: Slack webhook (local HTTP server), e-mail to the AE, composite, env."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from billing_core.adapters.mailer import MailDeliveryError, RecordingMailer
from billing_core.adapters.notifier import (
    CompositeNotifier,
    EmailNotifier,
    NotificationError,
    RecordingNotifier,
    SlackWebhookNotifier,
    notifier_from_env,
)
from billing_core.domain.documents import HandoffSummary


def summary(**changes) -> HandoffSummary:
    values = dict(
        handoff_id=7, account_id="acc-42", account_name="Rossi Consulenze S.r.l.", plan="Business",
        licenses=2, requested_by="mario@rossi.it", reason="enterprise",
        request_text="Vorrei passare a Enterprise con 300 licenze",
        last_messages=("utente: quanto costa Enterprise?", "assistente: ti metto in contatto con il commerciale"),
        account_executive_name="Giulia Verdi", account_executive_email="giulia.verdi@fatturami.it",
    )
    values.update(changes)
    return HandoffSummary(**values)


class WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, self.headers["Content-Type"], body))
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), WebhookHandler)
    server.requests, server.status = [], 200
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret"
    yield server
    server.shutdown()
    server.server_close()


def test_slack_posts_the_italian_summary_as_json(webhook):
    SlackWebhookNotifier(webhook.url).notify_handoff(summary())
    ((path, content_type, body),) = webhook.requests
    assert path == "/services/T000/B000/secret"
    assert content_type.startswith("application/json")
    payload = json.loads(body.decode("utf-8"))
    assert list(payload) == ["text"]
    assert payload["text"] == (
        "Ciao Giulia Verdi, l'assistente di fatturazione ti ha passato una conversazione (richiesta n. 7).\n"
        "\n"
        "Account: Rossi Consulenze S.r.l. (acc-42)\n"
        "Piano: Business, 2 licenze\n"
        "Richiesta da: mario@rossi.it\n"
        "Motivo: piano Enterprise\n"
        "Cosa ha chiesto: «Vorrei passare a Enterprise con 300 licenze»\n"
        "\n"
        "Ultimi messaggi:\n"
        "- utente: quanto costa Enterprise?\n"
        "- assistente: ti metto in contatto con il commerciale"
    )


def test_slack_escapes_user_text_and_says_1_licenza(webhook):
    SlackWebhookNotifier(webhook.url).notify_handoff(
        summary(licenses=1, request_text="<!channel> aiuto & grazie", last_messages=()))
    text = json.loads(webhook.requests[0][2])["text"]
    assert "Piano: Business, 1 licenza\n" in text
    assert "«&lt;!channel&gt; aiuto &amp; grazie»" in text
    assert "<!channel>" not in text
    assert text.endswith("Ultimi messaggi:\n(nessun messaggio)")


def test_slack_http_error_raises_notification_error(webhook):
    webhook.status = 500
    with pytest.raises(NotificationError) as error:
        SlackWebhookNotifier(webhook.url).notify_handoff(summary())
    assert "HTTP 500" in str(error.value)
    assert "secret" not in str(error.value)  # the webhook URL is a credential


def test_slack_unreachable_raises_notification_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = SlackWebhookNotifier(f"http://127.0.0.1:{port}/hook")
    assert notifier.timeout == 5.0
    with pytest.raises(NotificationError):
        notifier.notify_handoff(summary())


def test_slack_rejects_a_non_http_url():
    with pytest.raises(ValueError):
        SlackWebhookNotifier("hooks.slack.com/services/x")


def test_email_notifier_writes_to_the_account_executive():
    mailer = RecordingMailer()
    EmailNotifier(mailer, "Assistente <fatturazione@fatturami.it>").notify_handoff(summary())
    (message,) = mailer.sent
    assert message["To"] == "Giulia Verdi <giulia.verdi@fatturami.it>"
    assert message["From"] == "Assistente <fatturazione@fatturami.it>"
    assert message["Reply-To"] == "mario@rossi.it"
    assert message["Subject"] == "Richiesta n. 7 da Rossi Consulenze S.r.l.: piano Enterprise"
    body = message.get_content()
    assert "Account: Rossi Consulenze S.r.l. (acc-42)\nPiano: Business, 2 licenze\n" in body
    assert "Cosa ha chiesto: «Vorrei passare a Enterprise con 300 licenze»" in body
    assert "- assistente: ti metto in contatto con il commerciale" in body


def test_email_subject_reasons_and_unknown_reason():
    mailer = RecordingMailer()
    notifier = EmailNotifier(mailer, "fatturazione@fatturami.it")
    notifier.notify_handoff(summary(reason="request_human"))
    notifier.notify_handoff(summary(reason="sales_managed", account_name="Rossi\nConsulenze"))
    notifier.notify_handoff(summary(reason="altro"))
    subjects = [message["Subject"] for message in mailer.sent]
    assert subjects == [
        "Richiesta n. 7 da Rossi Consulenze S.r.l.: l'utente ha chiesto di parlare con una persona",
        "Richiesta n. 7 da Rossi Consulenze: account gestito dal commerciale",
        "Richiesta n. 7 da Rossi Consulenze S.r.l.: altro",
    ]


class FailingMailer:
    def send(self, message) -> None:
        raise MailDeliveryError("server SMTP irraggiungibile")


def test_email_failure_is_a_notification_error():
    with pytest.raises(NotificationError, match="server SMTP irraggiungibile"):
        EmailNotifier(FailingMailer(), "fatturazione@fatturami.it").notify_handoff(summary())


def test_composite_tries_every_notifier_then_reports():
    recording = RecordingNotifier()
    composite = CompositeNotifier([EmailNotifier(FailingMailer(), "a@b.it"), recording])
    with pytest.raises(NotificationError, match="1 su 2"):
        composite.notify_handoff(summary())
    assert recording.sent == [summary()]
    ok = RecordingNotifier()
    CompositeNotifier([ok, recording]).notify_handoff(summary(handoff_id=8))
    assert [s.handoff_id for s in ok.sent] == [8]


def test_notifier_from_env_emails_and_optionally_posts_to_slack(webhook, monkeypatch):
    monkeypatch.delenv("BILLING_HANDOFF_SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("BILLING_MAIL_FROM", "Assistente <bot@fatturami.it>")
    mailer = RecordingMailer()
    notifier_from_env(mailer).notify_handoff(summary())
    assert [m["From"] for m in mailer.sent] == ["Assistente <bot@fatturami.it>"]
    assert webhook.requests == []

    monkeypatch.setenv("BILLING_HANDOFF_SLACK_WEBHOOK_URL", webhook.url)
    notifier_from_env(mailer, sender="altro@fatturami.it").notify_handoff(summary())
    assert len(mailer.sent) == 2 and mailer.sent[1]["From"] == "altro@fatturami.it"
    assert len(webhook.requests) == 1
