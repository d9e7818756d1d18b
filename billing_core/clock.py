"""The one injectable clock: BILLING_NOW (ISO date or date-time) or the real time, in Europe/Rome."""
from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

ROME = ZoneInfo("Europe/Rome")


class InvalidClock(ValueError):
    """BILLING_NOW is set but is not an ISO date or date-time."""


def now() -> dt.datetime:
    """Current time, timezone-aware, in Europe/Rome."""
    raw = os.environ.get("BILLING_NOW", "").strip()
    if not raw:
        return dt.datetime.now(ROME)
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(12, 0))
        except ValueError:
            raise InvalidClock(
                f"BILLING_NOW={raw!r} non è una data valida: usa il formato ISO, "
                "per esempio 2026-11-26 oppure 2026-11-26T10:00:00+01:00."
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ROME)
    return value.astimezone(ROME)


def today() -> dt.date:
    """The account's local date (Europe/Rome): proration counts in these days."""
    return now().date()
