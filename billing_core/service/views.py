"""Plain-dict views of results, for JSON output (amounts as decimal strings, dates ISO)."""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from billing_core.domain.model import Quote, QuoteLine, ScheduledChange


def money(amount: Decimal) -> str:
    return f"{Decimal(amount):.2f}"


def line_dict(line: QuoteLine) -> dict:
    return {
        "kind": line.kind, "sku": line.sku, "cycle": line.cycle, "quantity": line.quantity,
        "unit_price": money(line.unit_price), "start": line.start.isoformat(), "end": line.end.isoformat(),
        "days": line.days, "period_days": line.period_days, "amount": money(line.amount),
    }


def scheduled_dict(change: ScheduledChange) -> dict:
    return {"kind": change.kind, "from": change.old, "to": change.new,
            "effective_on": change.effective_on.isoformat()}


def quote_dict(quote: Quote) -> dict:
    new = quote.new_subscription
    return {
        "change_day": quote.change_day.isoformat(),
        "lines": [line_dict(line) for line in quote.lines],
        "scheduled": [scheduled_dict(change) for change in quote.scheduled],
        "net": money(quote.net),
        "balance_applied": money(quote.balance_applied),
        "taxable": money(quote.taxable),
        "tax_rate": f"{quote.tax_rate:.2f}",
        "tax": money(quote.tax),
        "total": money(quote.total),
        "balance_after": money(quote.balance_after),
        "tax_note": quote.tax_note,
        "effective": quote.effective,
        "next_renewal": {"date": quote.next_renewal.date.isoformat(), "amount": money(quote.next_renewal.amount)},
        "after": {"plan": new.plan, "cycle": new.cycle, "licenses": new.licenses,
                  "pending_plan": new.pending_plan, "pending_licenses": new.pending_licenses,
                  "period_start": new.period_start.isoformat(), "period_end": new.period_end.isoformat()},
    }


def fingerprint(data: object) -> str:
    """A stable hash of a JSON-able value (what was quoted, what was asked)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def quote_fingerprint(quote: Quote) -> str:
    return fingerprint(quote_dict(quote))
