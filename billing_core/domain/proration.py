"""Calendar periods and exact proration (pure functions)."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta

CENT = Decimal("0.01")
CYCLE_MONTHS = {"monthly": 1, "annual": 12}


def round_half_up(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(day: dt.date, months: int) -> dt.date:
    """31 January + 1 month = 28/29 February (calendar months, clamped to the month's end)."""
    return day + relativedelta(months=months)


def period_end(start: dt.date, cycle: str) -> dt.date:
    return add_months(start, CYCLE_MONTHS[cycle])


def anniversary_period(anchor: dt.date, cycle: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The period of ``cycle`` anchored on ``anchor`` that contains ``day``.

    Counted from the anchor each time (anchor + k months), so a period anchored on the 31st
    comes back to the 31st after a short month instead of drifting to the 28th.
    """
    months = CYCLE_MONTHS[cycle]
    k = 0
    while add_months(anchor, (k + 1) * months) <= day:
        k += 1
    return add_months(anchor, k * months), add_months(anchor, (k + 1) * months)


def prorate(unit_price: Decimal, quantity: int, start: dt.date, end: dt.date, change_day: dt.date) -> tuple[Decimal, int, int]:
    """(amount, remaining_days, period_days) for [change_day, end) of the period [start, end).

    The day of the change counts as remaining; the amount is exact and rounded once, half-up.
    """
    period_days = (end - start).days
    remaining_days = (end - change_day).days
    if not 0 < remaining_days <= period_days:
        raise ValueError(f"{change_day} is not inside the period [{start}, {end})")
    amount = unit_price * quantity * Decimal(remaining_days) / Decimal(period_days)
    return round_half_up(amount), remaining_days, period_days
