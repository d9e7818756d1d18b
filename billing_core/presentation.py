"""Italian wording of the engine's results (refusals, invoice lines), from the message catalogue."""
from __future__ import annotations

import datetime as dt

from billing_core.domain.catalog import Catalog
from billing_core.domain.model import InvalidRequest, QuoteLine, Refused, ScheduledChange
from billing_core.formatting import format_date, format_eur, plural
from billing_core.i18n import text


def product_name(sku: str, catalog: Catalog) -> str:
    if sku in catalog.plans:
        return catalog.plans[sku].name
    if sku in catalog.addons:
        return catalog.addons[sku].name
    return sku


def cycle_name(cycle: str) -> str:
    return text(f"cycle_{cycle}")


def licenses(count: int) -> str:
    return plural(count, "licenza", "licenze")


def join_it(items: list[str]) -> str:
    """'a', 'a e b', 'a, b e c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + text("list_and") + items[-1]


def line_description(line: QuoteLine, catalog: Catalog) -> str:
    quantity = licenses(line.quantity) if line.sku in catalog.plans else f"quantità {line.quantity}"
    values = dict(product=product_name(line.sku, catalog), quantity=quantity, cycle=cycle_name(line.cycle),
                  start=format_date(line.start), end=format_date(line.end),
                  end_inclusive=format_date(line.end - dt.timedelta(days=1)))
    if line.cycle == "one_month":
        return text("line_one_off", **values)
    return text(f"line_{line.kind}", **values)


def line_title(line: QuoteLine, catalog: Catalog) -> str:
    """What an invoice line is, without its dates (documents print the period beside it)."""
    quantity = licenses(line.quantity) if line.sku in catalog.plans else f"quantità {line.quantity}"
    kind = "one_off" if line.cycle == "one_month" else line.kind
    return text(f"line_title_{kind}", product=product_name(line.sku, catalog), quantity=quantity,
                cycle=cycle_name(line.cycle), end=format_date(line.end))


def line_days(line: QuoteLine) -> str:
    return text("line_days", days=line.days, period_days=line.period_days)


def scheduled_description(change: ScheduledChange, catalog: Catalog) -> str:
    return text(f"scheduled_{change.kind}", old=product_name(change.old, catalog),
                new=product_name(change.new, catalog), date=format_date(change.effective_on))


def refusal_message(refusal: Refused, catalog: Catalog) -> str:
    p = dict(refusal.params)
    code = refusal.code
    if "account_executive" in p:
        ae = p.pop("account_executive")
        p.update(ae_name=ae.name, ae_email=ae.email)
    if "sku" in p:
        p["addon"] = product_name(p["sku"], catalog)
    for key in ("held_cycle", "requested_cycle"):
        if key in p:
            p[key] = cycle_name(p[key])
    if code == "invalid_quantity" and p.get("plan") in catalog.addons:
        return text("refusal_invalid_addon_quantity", requested=p["requested"],
                    addon=product_name(p["plan"], catalog))
    if "plan" in p:
        p["plan"] = product_name(p["plan"], catalog)
    if code == "licenses_assigned":
        holders = list(p["holders"])
        p["requested_text"] = licenses(p["requested"])
        count = len(holders)
        p["assigned_text"] = ("1 licenza è assegnata" if count == 1 else f"{count} licenze sono assegnate")
        p["holders"] = join_it(holders)
    if code == "unpaid_invoices":
        p["invoices"] = join_it([
            f"n. {inv.number} di {format_eur(inv.total)}, scaduta il {format_date(inv.due_on)}"
            for inv in p["invoices"]])
    if code == "pending_change":
        p["changes"] = join_it([scheduled_description(change, catalog) for change in p["changes"]])
    if code == "no_change":
        p["licenses"] = licenses(p["licenses"])
        p["cycle"] = cycle_name(p["cycle"])
    if code == "sales_managed":
        p["reason"] = text(f"sales_reason_{p['reason']}")
    if code == "no_billing_role":
        p["role"] = text(f"role_{p['role']}")
        p.setdefault("owner", "il proprietario")
    if code in ("no_free_license", "already_assigned", "not_assigned"):
        product = p.get("product", "license")
        p["product"] = "licenze" if code == "no_free_license" and product == "license" else (
            "una licenza" if product == "license" else product_name(product, catalog))
    return text(f"refusal_{code}", **p)


def invalid_request_message(error: InvalidRequest) -> str:
    return text(f"error_{error.key}", **error.params)
