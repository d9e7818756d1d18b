"""Italian presentation of money, dates and counted nouns (Babel), shared by CLI and actions."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.dates import format_date as _babel_format_date
from babel.numbers import format_currency

LOCALE = "it_IT"


def format_eur(amount: Decimal) -> str:
    """1234.5 -> '1.234,50 €' (the Italian way: dot for thousands, comma for cents)."""
    text = format_currency(Decimal(amount), "EUR", locale=LOCALE)
    # Babel separates the sign with a non-breaking space; chat clients render it fine,
    # but a plain space keeps tests and copy-paste predictable.
    return text.replace("\xa0", " ")


def format_date(day: dt.date) -> str:
    """date(2026, 12, 15) -> '15 dicembre 2026'."""
    return _babel_format_date(day, format="d MMMM y", locale=LOCALE)


def plural(count: int, singular: str, plural_form: str) -> str:
    """'1 licenza', '2 licenze' (Italian has one singular form: exactly one)."""
    return f"{count} {singular if count == 1 else plural_form}"
