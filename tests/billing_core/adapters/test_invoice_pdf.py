"""The invoice PDF: Italian labels, Italian amounts and dates, reverse charge, both fonts.

No PDF text extractor is installed, so ``pdf_text`` below reads the uncompressed output
(``render_invoice_pdf(..., compress=False)``): it follows each ``Tf`` to its font and, for
the embedded DejaVu subset, decodes glyph codes through the font's ToUnicode CMap.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D

import pytest

from billing_core.adapters.invoice_pdf import find_unicode_font, format_tax_rate, render_invoice_pdf
from billing_core.domain.documents import DocumentLine, InvoiceDocument, Party

_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f",
            b"(": b"(", b")": b")", b"\\": b"\\"}


def _unescape(literal: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(literal):
        byte = literal[i:i + 1]
        if byte != b"\\":
            out += byte
            i += 1
            continue
        octal = re.match(rb"[0-7]{1,3}", literal[i + 1:i + 4])
        if octal:
            out.append(int(octal.group(), 8))
            i += 1 + len(octal.group())
        else:
            out += _ESCAPES.get(literal[i + 1:i + 2], literal[i + 1:i + 2])
            i += 2
    return bytes(out)


def pdf_text(pdf: bytes) -> str:
    """Every shown string of an uncompressed fpdf2 PDF, one per line."""
    objects = {int(n): body for n, body in re.findall(rb"(\d+) 0 obj(.*?)endobj", pdf, re.S)}
    fonts = {}
    for dictionary in re.findall(rb"/Font\s*<<(.*?)>>", pdf, re.S):
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", dictionary):
            cmap_ref = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(ref)])
            cmap = None
            if cmap_ref:
                pairs = re.findall(rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]+)>", objects[int(cmap_ref.group(1))])
                cmap = {int(code, 16): bytes.fromhex(uni.decode()).decode("utf-16-be")
                        for code, uni in pairs}
            fonts[name] = cmap
    chunks, font = [], None
    for body in objects.values():
        if b"/FontFile" in body or b"/Length1" in body or b" Tf" not in body:
            continue
        for token in re.finditer(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", body, re.S):
            if token.group(1):
                font = fonts[token.group(1)]
                continue
            raw = _unescape(token.group(2))
            if font is None:
                chunks.append(raw.decode("latin-1"))
            else:
                codes = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]
                chunks.append("".join(font[c] for c in codes))
    return "\n".join(chunks)


SELLER = Party("Fatturami S.r.l.", "Via Roma 1\n20121 Milano (MI)", "IT", "IT01234567890",
               "01234567890", "fatture@fatturami.it")
ITALIAN_CUSTOMER = Party("Bianchi e Figli S.n.c.", "Corso Vittorio Emanuele II 12\n10123 Torino (TO)",
                         "IT", "IT09876543210", "BNCLCU80A01L219X")
GERMAN_CUSTOMER = Party("Müller GmbH", "Hauptstraße 5\n10115 Berlin", "DE", "DE123456789", None,
                        "anna@mueller.de")

CREDIT = DocumentLine("Business, credito per i giorni non usati", "credit", 2, D("30.00"),
                      date(2026, 11, 16), date(2026, 12, 1), 15, 30, D("-30.00"))
CHARGE = DocumentLine("Enterprise, 50 licenze per i giorni rimanenti", "charge", 50, D("45.00"),
                      date(2026, 11, 16), date(2026, 12, 1), 15, 30, D("1125.00"))
FLAT = DocumentLine("Supporto prioritario", "charge", 1, D("150.00"), None, None, None, None,
                    D("150.00"))
REVERSE_CHARGE_NOTE = "Inversione contabile - art. 7-ter DPR 633/1972"


def reverse_charge_invoice(**changes) -> InvoiceDocument:
    values = dict(
        number="2026/000123", issued_on=date(2026, 11, 26), due_on=date(2026, 12, 26),
        seller=SELLER, customer=GERMAN_CUSTOMER, lines=(CREDIT, CHARGE, FLAT),
        net=D("1245.00"), balance_applied=D("10.00"), taxable=D("1235.00"),
        tax_rate=D("0"), tax=D("0.00"), total=D("1235.00"),
        tax_note=REVERSE_CHARGE_NOTE, status="unpaid",
    )
    values.update(changes)
    return InvoiceDocument(**values)


def italian_invoice() -> InvoiceDocument:
    return InvoiceDocument(
        number="2026/000124", issued_on=date(2026, 12, 15), due_on=date(2026, 12, 15),
        seller=SELLER, customer=ITALIAN_CUSTOMER, lines=(CREDIT, CHARGE),
        net=D("1095.00"), balance_applied=D("0"), taxable=D("1095.00"),
        tax_rate=D("0.22"), tax=D("240.90"), total=D("1335.90"), tax_note=None, status="paid",
    )


@pytest.fixture
def unicode_font():
    directory = find_unicode_font()
    if directory is None:
        pytest.skip("DejaVu Sans non installato: resta coperto il ripiego su Helvetica")
    return directory


def test_reverse_charge_invoice_with_unicode_font(unicode_font):
    pdf = render_invoice_pdf(reverse_charge_invoice(), font_dir=unicode_font, compress=False)
    assert pdf.startswith(b"%PDF")
    content = pdf_text(pdf)
    lines = content.splitlines()
    assert "Fattura n. 2026/000123" in lines
    assert "Data: 26 novembre 2026" in lines
    assert "Scadenza: 26 dicembre 2026" in lines
    assert "Stato: da pagare" in lines
    # seller and customer blocks
    for expected in ("Fatturami S.r.l.", "Partita IVA: IT01234567890", "Codice fiscale: 01234567890",
                     "Müller GmbH", "Hauptstraße 5", "Germania", "Partita IVA: DE123456789"):
        assert expected in lines
    # line table: header, credit line with its period, amounts >= 1.000 the Italian way
    for expected in ("Descrizione", "Quantità", "Prezzo unitario", "Importo",
                     "Business, credito per i giorni non usati",
                     "dal 16 novembre 2026 al 30 novembre 2026, 15/30 giorni",
                     "-30,00 €", "45,00 €", "1.125,00 €", "Supporto prioritario"):
        assert expected in lines
    # totals: the rows pair label and amount in this order
    totals = lines[lines.index("Totale righe"):]
    assert totals[:10] == ["Totale righe", "1.245,00 €", "Credito utilizzato", "-10,00 €",
                           "Imponibile", "1.235,00 €", "IVA 0%", "0,00 €",
                           "Totale", "1.235,00 €"]
    assert REVERSE_CHARGE_NOTE in lines
    assert "Tutte le fatture sono disponibili in Cronologia fatture." in lines


def test_italian_invoice_shows_vat_and_no_balance_row(unicode_font):
    lines = pdf_text(render_invoice_pdf(italian_invoice(), font_dir=unicode_font,
                                        compress=False)).splitlines()
    totals = lines[lines.index("Totale righe"):]
    assert totals[:8] == ["Totale righe", "1.095,00 €", "Imponibile", "1.095,00 €",
                          "IVA 22%", "240,90 €", "Totale", "1.335,90 €"]
    assert "Credito utilizzato" not in lines
    assert "Stato: pagata" in lines
    assert "Codice fiscale: BNCLCU80A01L219X" in lines
    assert "Italia" not in lines  # the country is printed only for foreign parties
    assert not any("Inversione contabile" in line for line in lines)


def test_core_font_fallback_writes_eur_and_keeps_accents():
    pdf = render_invoice_pdf(reverse_charge_invoice(), font_dir=None, compress=False)
    assert pdf.startswith(b"%PDF")
    assert b"FontFile" not in pdf  # nothing embedded: works on a machine without DejaVu
    lines = pdf_text(pdf).splitlines()
    assert "Fattura n. 2026/000123" in lines
    assert "Quantità" in lines
    assert "Müller GmbH" in lines
    assert "1.125,00 EUR" in lines
    assert "1.235,00 EUR" in lines
    assert "-30,00 EUR" in lines
    assert REVERSE_CHARGE_NOTE in lines
    assert not any("€" in line for line in lines)


def test_core_font_fallback_replaces_characters_outside_latin1():
    doc = reverse_charge_invoice(
        lines=(DocumentLine("Business – credito “pro rata”", "credit", 1, D("10"), None, None,
                            None, None, D("-10")),),
    )
    lines = pdf_text(render_invoice_pdf(doc, font_dir=None, compress=False)).splitlines()
    assert 'Business - credito "pro rata"' in lines


def test_default_output_is_compressed_and_deterministic():
    first = render_invoice_pdf(reverse_charge_invoice())
    assert first.startswith(b"%PDF")
    assert b"/FlateDecode" in first
    assert render_invoice_pdf(reverse_charge_invoice()) == first


def test_many_lines_flow_onto_further_pages():
    lines = tuple(CHARGE for _ in range(40))
    doc = reverse_charge_invoice(lines=lines, net=D("45000.00"), balance_applied=D("0"),
                                 taxable=D("45000.00"), total=D("45000.00"))
    pdf = render_invoice_pdf(doc, font_dir=None, compress=False)
    assert len(re.findall(rb"/Type /Page\b", pdf)) > 1
    content = pdf_text(pdf).splitlines()
    assert content.count("1.125,00 EUR") == 40
    assert content[-1] == "Tutte le fatture sono disponibili in Cronologia fatture."
    assert "45.000,00 EUR" in content


@pytest.mark.parametrize("rate, expected", [
    (D("0.22"), "22%"), (D("0.10"), "10%"), (D("0.045"), "4,5%"), (D("0"), "0%"), (D("0.00"), "0%"),
])
def test_format_tax_rate(rate, expected):
    assert format_tax_rate(rate) == expected
