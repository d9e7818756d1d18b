"""Order-confirmation e-mail and the three mailers (outbox, SMTP against a local fake, recording)."""
from __future__ import annotations

import base64
import datetime
import ipaddress
import socket
import ssl
import socketserver
import threading
from contextlib import contextmanager
from datetime import date
from decimal import Decimal as D
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from billing_core.adapters.mailer import (
    MailDeliveryError,
    OutboxMailer,
    RecordingMailer,
    SmtpMailer,
    build_order_confirmation,
    invoice_filename,
    mailer_from_env,
)
from billing_core.domain.documents import DocumentLine, InvoiceDocument, Party

PDF = b"%PDF-1.4\n% finta fattura\n%%EOF\n"
SELLER = Party("Fatturami S.r.l.", "Via Roma 1\n20121 Milano (MI)", "IT", "IT01234567890", "01234567890")
CUSTOMER = Party("Rossi Consulenze S.r.l.", "Via Po 3\n10124 Torino (TO)", "IT", "IT11122233344", None,
                 "mario@rossi.it")


def invoice(**changes) -> InvoiceDocument:
    values = dict(
        number="2026/000123", issued_on=date(2026, 11, 26), due_on=date(2026, 12, 26),
        seller=SELLER, customer=CUSTOMER,
        lines=(
            DocumentLine("Business, credito per i giorni non usati", "credit", 1, D("30.00"),
                         date(2026, 11, 16), date(2026, 12, 1), 15, 30, D("-15.00")),
            DocumentLine("Enterprise, giorni rimanenti", "charge", 40, D("60.00"),
                         date(2026, 11, 16), date(2026, 12, 1), 15, 30, D("1200.00")),
        ),
        net=D("1185.00"), balance_applied=D("20.00"), taxable=D("1165.00"),
        tax_rate=D("0.22"), tax=D("256.30"), total=D("1421.30"), tax_note=None, status="paid",
    )
    values.update(changes)
    return InvoiceDocument(**values)


def confirmation(**changes):
    return build_order_confirmation(invoice(**changes), PDF, to="Mario Rossi <mario@rossi.it>",
                                    sender="Fatturami <fatture@fatturami.it>")


def test_confirmation_headers_and_body():
    message = confirmation()
    assert message["Subject"] == "Conferma d'ordine e fattura 2026/000123"
    assert message["To"] == "Mario Rossi <mario@rossi.it>"
    assert message["From"] == "Fatturami <fatture@fatturami.it>"
    assert message["Date"] and message["Message-ID"].endswith("@fatturami.it>")
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Gentile Rossi Consulenze S.r.l.,\n")
    assert "la fattura n. 2026/000123 del 26 novembre 2026" in body
    assert "- Business, credito per i giorni non usati: -15,00 €\n" in body
    assert "- Enterprise, giorni rimanenti: 1.200,00 €\n  40 × 60,00 €\n" in body
    assert "dal 16 novembre 2026 al 30 novembre 2026, 15/30 giorni" in body
    assert ("Totale righe: 1.185,00 €\nCredito utilizzato: -20,00 €\nImponibile: 1.165,00 €\n"
            "IVA 22%: 256,30 €\nTotale: 1.421,30 €\n") in body
    assert "Il pagamento è stato ricevuto" in body
    assert "Cronologia fatture" in body


def test_confirmation_unpaid_reverse_charge():
    body = confirmation(status="unpaid", tax_rate=D("0"), tax=D("0"), total=D("1165.00"),
                        balance_applied=D("0"), taxable=D("1185.00"),
                        tax_note="Inversione contabile - art. 7-ter DPR 633/1972",
                        ).get_body(("plain",)).get_content()
    assert "Credito utilizzato" not in body
    assert "IVA 0%: 0,00 €\n" in body
    assert "Inversione contabile - art. 7-ter DPR 633/1972" in body
    assert "La fattura è da pagare entro il 26 dicembre 2026." in body


def test_confirmation_attaches_the_pdf():
    attachments = list(confirmation().iter_attachments())
    assert len(attachments) == 1
    (pdf,) = attachments
    assert pdf.get_filename() == "fattura-2026-000123.pdf"
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content() == PDF


def test_invoice_filename():
    assert invoice_filename("2026/000123") == "fattura-2026-000123.pdf"
    assert invoice_filename("NC 2026/7") == "fattura-NC-2026-7.pdf"


def test_outbox_writes_a_parseable_eml(tmp_path):
    mailer = OutboxMailer(tmp_path / "outbox")  # created on first use
    mailer.send(confirmation())
    mailer.send(confirmation(number="2026/000124"))
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    assert not list((tmp_path / "outbox").glob("*.part"))
    subjects = set()
    for path in files:
        parsed = message_from_bytes(path.read_bytes(), policy=default_policy)
        subjects.add(parsed["Subject"])
        (attachment,) = parsed.iter_attachments()
        assert attachment.get_content() == PDF
        assert "Cronologia fatture" in parsed.get_body(("plain",)).get_content()
    assert subjects == {"Conferma d'ordine e fattura 2026/000123", "Conferma d'ordine e fattura 2026/000124"}


def test_outbox_error_is_a_delivery_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("non una cartella")
    with pytest.raises(MailDeliveryError):
        OutboxMailer(blocker / "outbox").send(confirmation())


def test_recording_mailer_keeps_messages():
    mailer = RecordingMailer()
    message = confirmation()
    mailer.send(message)
    assert mailer.sent == [message]


# --- SMTP against a local fake server -------------------------------------------------

class FakeSmtpHandler(socketserver.StreamRequestHandler):
    """Just enough ESMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        server = self.server
        self.reply("220 fake ESMTP")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            verb, _, argument = raw.decode().rstrip("\r\n").partition(" ")
            verb = verb.upper()
            command = f"{verb} {argument}"
            if verb == "EHLO":
                self.reply("250-fake")
                if server.starttls_context is not None and not server.tls_sessions:
                    self.reply("250-STARTTLS")
                self.reply("250 AUTH PLAIN")
            elif verb == "STARTTLS":
                self.reply("220 ready")
                self.connection = server.starttls_context.wrap_socket(self.connection, server_side=True)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb", buffering=0)
                server.tls_sessions.append("starttls")
            elif verb == "AUTH":
                _, credentials = command.split(" ", 2)[1:]
                _, user, password = base64.b64decode(credentials).decode().split("\0")
                server.logins.append((user, password))
                self.reply("235 ok")
            elif verb == "MAIL":
                server.envelope_from.append(command)
                self.reply("250 ok")
            elif verb == "RCPT":
                server.recipients.append(command)
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = bytearray()
                while (line := self.rfile.readline()) not in (b".\r\n", b""):
                    data += line[1:] if line.startswith(b"..") else line
                server.messages.append(bytes(data))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class FakeSmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, implicit_tls=None, starttls=None):
        super().__init__(("127.0.0.1", 0), FakeSmtpHandler)
        self.implicit_tls, self.starttls_context = implicit_tls, starttls
        self.logins, self.envelope_from, self.recipients, self.messages = [], [], [], []
        self.tls_sessions = []

    def get_request(self):
        connection, address = super().get_request()
        if self.implicit_tls is not None:  # smtps: TLS from the first byte
            connection = self.implicit_tls.wrap_socket(connection, server_side=True)
            self.tls_sessions.append("smtps")
        return connection, address


@contextmanager
def running(server):
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def smtp_server():
    with running(FakeSmtpServer()) as server:
        yield server


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory):
    """(server context, client context trusting it) from a throwaway self-signed certificate."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(cafile=str(cert_file))
    return server_context, client_context


def test_smtp_mailer_logs_in_and_delivers(smtp_server):
    port = smtp_server.server_address[1]
    mailer = SmtpMailer(f"smtp://fatture%40fatturami.it:p%40ss%3Aw0rd@127.0.0.1:{port}", timeout=5)
    mailer.send(confirmation())
    assert smtp_server.logins == [("fatture@fatturami.it", "p@ss:w0rd")]
    assert smtp_server.envelope_from == ["MAIL FROM:<fatture@fatturami.it>"]
    assert smtp_server.recipients == ["RCPT TO:<mario@rossi.it>"]
    (raw,) = smtp_server.messages
    parsed = message_from_bytes(raw, policy=default_policy)
    assert parsed["Subject"] == "Conferma d'ordine e fattura 2026/000123"
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_filename() == "fattura-2026-000123.pdf"
    assert attachment.get_content() == PDF


def test_smtp_without_credentials_skips_login(smtp_server):
    SmtpMailer(f"smtp://127.0.0.1:{smtp_server.server_address[1]}", timeout=5).send(confirmation())
    assert smtp_server.logins == []
    assert len(smtp_server.messages) == 1


def test_starttls_is_required_for_smtp_starttls(smtp_server):
    # the fake server does not offer STARTTLS: the mailer must refuse to go on in clear text
    mailer = SmtpMailer(f"smtp+starttls://u:p@127.0.0.1:{smtp_server.server_address[1]}", timeout=5)
    with pytest.raises(MailDeliveryError):
        mailer.send(confirmation())
    assert smtp_server.logins == [] and smtp_server.messages == []


@pytest.mark.parametrize("scheme, tls_mode", [("smtps", "implicit_tls"), ("smtp+starttls", "starttls")])
def test_tls_schemes_encrypt_before_login(tls_contexts, scheme, tls_mode):
    """smtps:// speaks TLS from the start; smtp+starttls:// upgrades before sending the password."""
    server_context, client_context = tls_contexts
    with running(FakeSmtpServer(**{tls_mode: server_context})) as server:
        url = f"{scheme}://user:pw@127.0.0.1:{server.server_address[1]}"
        SmtpMailer(url, timeout=5, ssl_context=client_context).send(confirmation())
        assert server.tls_sessions == [{"implicit_tls": "smtps", "starttls": "starttls"}[tls_mode]]
        assert server.logins == [("user", "pw")] and len(server.messages) == 1


def test_smtps_rejects_an_untrusted_certificate(tls_contexts):
    server_context, _ = tls_contexts
    with running(FakeSmtpServer(implicit_tls=server_context)) as server:
        with pytest.raises(MailDeliveryError):  # default context: the self-signed cert is not trusted
            SmtpMailer(f"smtps://127.0.0.1:{server.server_address[1]}", timeout=5).send(confirmation())
        assert server.messages == []


def test_unreachable_server_is_a_delivery_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MailDeliveryError):
        SmtpMailer(f"smtp://127.0.0.1:{port}", timeout=2).send(confirmation())


def test_smtp_url_parsing():
    assert (SmtpMailer("smtps://mail.example.com").port, SmtpMailer("smtps://mail.example.com").scheme) == (465, "smtps")
    assert SmtpMailer("smtp+starttls://mail.example.com").port == 587
    assert SmtpMailer("smtp://mail.example.com").port == 25
    mailer = SmtpMailer("smtp+starttls://user:segreta@mail.example.com:2525")
    assert (mailer.host, mailer.port, mailer.username) == ("mail.example.com", 2525, "user")
    assert "segreta" not in repr(mailer)
    for bad in ("http://mail.example.com", "smtp://", "mail.example.com:25", "smtp://host:porta"):
        with pytest.raises(ValueError):
            SmtpMailer(bad)


def test_mailer_from_env(tmp_path, monkeypatch):
    monkeypatch.delenv("BILLING_SMTP_URL", raising=False)
    mailer = mailer_from_env(tmp_path)
    assert isinstance(mailer, OutboxMailer) and mailer.directory == tmp_path / "outbox"
    monkeypatch.setenv("BILLING_SMTP_URL", "  ")
    assert isinstance(mailer_from_env(tmp_path), OutboxMailer)
    monkeypatch.setenv("BILLING_SMTP_URL", "smtps://u:p@mail.example.com")
    mailer = mailer_from_env(tmp_path)
    assert isinstance(mailer, SmtpMailer) and (mailer.host, mailer.port) == ("mail.example.com", 465)
