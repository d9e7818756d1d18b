"""Render an ``InvoiceDocument`` as an A4 Italian invoice PDF (fpdf2).

Font choice: the euro sign and some typography (« », ’, –) need a Unicode TrueType font,
and fpdf2 2.8 ships no TTF of its own (only an ICC profile). So we use DejaVu Sans if this
machine has it (system font directories, or the copy bundled with matplotlib when that
package happens to be installed: located with ``importlib.util.find_spec``, never imported).
A fresh machine may have neither, so the renderer never *requires* the file: without it
we fall back to fpdf2's built-in Helvetica (latin-1 only), writing "EUR" instead of "€" and
replacing the few non latin-1 characters (Italian accents à è é ì ò ù are latin-1, so the
Italian text stays correct). ``find_unicode_font()`` tells which one will be used.

Money and dates are formatted by ``billing_core.formatting``; every label comes from the
Italian catalogue (``locale/it/documents.yml``, keys ``invoice_*``).
"""
from __future__ import annotations

import datetime as dt
import importlib.util
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Union

from babel import Locale
from fpdf import FPDF, FontFace, XPos, YPos

from billing_core.clock import ROME
from billing_core.domain.documents import DocumentLine, InvoiceDocument, Party
from billing_core.formatting import format_date, format_eur
from billing_core.i18n import text

__all__ = ["render_invoice_pdf", "find_unicode_font", "format_tax_rate", "AUTO_FONT"]

#: Sentinel for ``render_invoice_pdf(font_dir=...)``: look for DejaVu Sans on this machine.
AUTO_FONT = "auto"

_REGULAR = "DejaVuSans.ttf"
_BOLD = "DejaVuSans-Bold.ttf"
_SYSTEM_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora, RHEL
    Path("/usr/share/fonts/dejavu"),  # Alpine, Arch (older)
    Path("/usr/share/fonts/TTF"),  # Arch
    Path("/usr/local/share/fonts/dejavu"),  # FreeBSD
    Path("/Library/Fonts"),  # macOS, if installed by hand
)

# Characters outside latin-1 that our texts or the data may contain, for the core-font fallback.
_LATIN1_REPLACEMENTS = {
    "€": "EUR",
    "\u00a0": " ",  # no-break space (Babel)
    "\u202f": " ",  # narrow no-break space
    "’": "'",
    "‘": "'",
    "“": '"',
    "”": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "•": "-",
}

FontDir = Union[str, Path, None]

# Layout (mm). A4 is 210 x 297; 15 mm margins leave 180 mm.
_MARGIN = 15
_WIDTH = 180
_COLUMNS = (104, 19, 31, 26)  # description, quantity, unit price, amount (DejaVu 9 pt fits)


def find_unicode_font() -> Path | None:
    """The directory holding DejaVuSans.ttf and DejaVuSans-Bold.ttf, or None (core font)."""
    candidates = list(_SYSTEM_FONT_DIRS)
    spec = importlib.util.find_spec("matplotlib")  # does not import matplotlib
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "mpl-data" / "fonts" / "ttf")
    for directory in candidates:
        if (directory / _REGULAR).is_file() and (directory / _BOLD).is_file():
            return directory
    return None


def format_tax_rate(rate: Decimal) -> str:
    """Decimal("0.22") -> "22%", Decimal("0.045") -> "4,5%", Decimal("0") -> "0%"."""
    percent = (Decimal(rate) * 100).normalize()
    if percent == percent.to_integral_value():
        percent = percent.quantize(Decimal(1))
    return f"{percent:f}".replace(".", ",") + "%"


def render_invoice_pdf(
    doc: InvoiceDocument, *, font_dir: FontDir = AUTO_FONT, compress: bool = True
) -> bytes:
    """The invoice as PDF bytes.

    ``font_dir``: ``AUTO_FONT`` (default) uses DejaVu Sans when found, else Helvetica;
    a directory forces that DejaVu copy; ``None`` forces the built-in Helvetica.
    ``compress=False`` leaves content streams readable (tests inspect the text).
    The PDF creation date is the issue date, so the same document gives the same bytes.
    """
    if font_dir == AUTO_FONT:
        font_dir = find_unicode_font()
    renderer = _InvoiceRenderer(doc, Path(font_dir) if font_dir is not None else None)
    return renderer.render(compress=compress)


class _InvoiceRenderer:
    def __init__(self, doc: InvoiceDocument, font_dir: Path | None) -> None:
        self.doc = doc
        self.pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        self.unicode = font_dir is not None
        if font_dir is not None:
            self.pdf.add_font("DejaVu", "", str(font_dir / _REGULAR))
            self.pdf.add_font("DejaVu", "B", str(font_dir / _BOLD))
            self.family = "DejaVu"
        else:
            self.family = "helvetica"

    # -- helpers ---------------------------------------------------------------
    def t(self, value: str) -> str:
        """Text safe for the current font (core fonts: latin-1 only)."""
        if self.unicode:
            return value
        for char, replacement in _LATIN1_REPLACEMENTS.items():
            value = value.replace(char, replacement)
        return value.encode("latin-1", "replace").decode("latin-1")

    def money(self, amount: Decimal) -> str:
        return self.t(format_eur(amount))

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)

    def line(self, value: str, *, size: float = 9, bold: bool = False, width: float = 0,
             align: str = "L", height: float = 4.5) -> None:
        self.font(size, bold)
        self.pdf.multi_cell(width, height, self.t(value), align=align,
                            new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # -- document --------------------------------------------------------------
    def render(self, *, compress: bool) -> bytes:
        doc, pdf = self.doc, self.pdf
        pdf.set_compression(compress)
        pdf.set_creation_date(dt.datetime.combine(doc.issued_on, dt.time(12, 0), tzinfo=ROME))
        pdf.set_title(self.t(text("invoice_document_title", number=doc.number)))
        pdf.set_author(self.t(doc.seller.name))
        pdf.set_creator("billing_core")
        pdf.set_lang("it-IT")
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        pdf.set_auto_page_break(True, margin=_MARGIN)
        pdf.add_page()

        self._header()
        self._parties()
        self._lines_table()
        self._totals()
        self._footer_notes()
        return bytes(pdf.output())

    def _header(self) -> None:
        doc, pdf = self.doc, self.pdf
        top = pdf.get_y()
        # Seller on the left ...
        self._party_block(doc.seller, heading=None, x=_MARGIN, width=100, name_size=13)
        seller_bottom = pdf.get_y()
        # ... invoice number, dates and status on the right.
        pdf.set_xy(_MARGIN + 100, top)
        self.font(14, bold=True)
        pdf.multi_cell(80, 7, self.t(text("invoice_document_title", number=doc.number)),
                       align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        status_key = "invoice_status_paid" if doc.status == "paid" else "invoice_status_unpaid"
        for value in (
            text("invoice_issued_on", date=format_date(doc.issued_on)),
            text("invoice_due_on", date=format_date(doc.due_on)),
            text(status_key),
        ):
            self.font(9)
            pdf.multi_cell(80, 4.5, self.t(value), align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_xy(_MARGIN, max(seller_bottom, pdf.get_y()) + 6)

    def _parties(self) -> None:
        pdf = self.pdf
        top = pdf.get_y()
        pdf.set_draw_color(200, 200, 200)
        self._party_block(self.doc.customer, heading=text("invoice_customer_heading"),
                          x=_MARGIN, width=_WIDTH, name_size=11)
        pdf.line(_MARGIN, top - 2, _MARGIN + _WIDTH, top - 2)
        pdf.set_xy(_MARGIN, pdf.get_y() + 6)

    def _party_block(self, party: Party, *, heading: str | None, x: float, width: float,
                     name_size: float) -> None:
        pdf = self.pdf
        rows: list[tuple[str, float, bool]] = []
        if heading:
            rows.append((heading, 8, True))
        rows.append((party.name, name_size, True))
        rows.extend((part, 9, False) for part in party.address.splitlines() if part.strip())
        if party.country and party.country.upper() != "IT":
            country = Locale.parse("it").territories.get(party.country.upper(), party.country)
            rows.append((country, 9, False))
        if party.vat_id:
            rows.append((text("invoice_vat_id", vat_id=party.vat_id), 9, False))
        if party.fiscal_code:
            rows.append((text("invoice_fiscal_code", fiscal_code=party.fiscal_code), 9, False))
        if party.email:
            rows.append((text("invoice_email", email=party.email), 9, False))
        for value, size, bold in rows:
            pdf.set_x(x)
            self.font(size, bold)
            pdf.multi_cell(width, size * 0.5, self.t(value), new_x=XPos.LEFT, new_y=YPos.NEXT)

    def _description(self, line: DocumentLine) -> str:
        parts = [line.description]
        details = []
        if line.start is not None and line.end is not None:
            # the end is exclusive (the renewal day): print the last day covered
            details.append(text("invoice_period", start=format_date(line.start),
                                end=format_date(line.end - timedelta(days=1))))
        if line.days is not None and line.period_days is not None:
            details.append(text("invoice_period_days", days=line.days,
                                period_days=line.period_days))
        if details:
            parts.append(", ".join(details))
        return "\n".join(parts)

    def _lines_table(self) -> None:
        pdf = self.pdf
        self.font(9)
        with pdf.table(
            width=_WIDTH,
            col_widths=_COLUMNS,
            text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
            line_height=5,
            padding=1.5,
            borders_layout="HORIZONTAL_LINES",
            first_row_as_headings=True,
        ) as table:
            heading = table.row()
            for key in ("invoice_column_description", "invoice_column_quantity",
                        "invoice_column_unit_price", "invoice_column_amount"):
                heading.cell(self.t(text(key)))
            for line in self.doc.lines:
                row = table.row()
                row.cell(self.t(self._description(line)))
                row.cell(str(line.quantity))
                row.cell(self.money(line.unit_price))
                row.cell(self.money(line.amount))
        pdf.ln(4)

    def _totals(self) -> None:
        doc, pdf = self.doc, self.pdf
        rows: list[tuple[str, str, bool]] = [
            (text("invoice_net"), format_eur(doc.net), False)
        ]
        if doc.balance_applied:
            rows.append((text("invoice_balance_applied"), format_eur(-doc.balance_applied), False))
        rows.append((text("invoice_taxable"), format_eur(doc.taxable), False))
        rows.append((text("invoice_tax", rate=format_tax_rate(doc.tax_rate)),
                     format_eur(doc.tax), False))
        rows.append((text("invoice_total"), format_eur(doc.total), True))
        label_width, amount_width = 50, 34
        x = _MARGIN + _WIDTH - label_width - amount_width
        for label, amount, bold in rows:
            if bold:
                pdf.set_draw_color(0, 0, 0)
                pdf.line(x, pdf.get_y() + 0.5, _MARGIN + _WIDTH, pdf.get_y() + 0.5)
                pdf.ln(1.5)
            pdf.set_x(x)
            size = 11 if bold else 9
            self.font(size, bold)
            pdf.cell(label_width, 6, self.t(label))
            pdf.cell(amount_width, 6, self.t(amount), align="R",
                     new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)

    def _footer_notes(self) -> None:
        doc = self.doc
        if doc.tax_note:
            self.line(doc.tax_note, size=9, bold=True)
        if doc.currency != "EUR":
            self.line(text("invoice_currency_note", currency=doc.currency), size=8)
        self.pdf.ln(2)
        self.line(text("invoice_footer"), size=8)
