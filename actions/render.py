"""Italian chat rendering of quotes, carts and account data (texts from the one catalogue)."""
from __future__ import annotations

from billing_core.adapters.invoice_pdf import format_tax_rate
from billing_core.domain.catalog import Catalog
from billing_core.domain.model import ChangeSet, Quote
from billing_core.formatting import format_date, format_eur
from billing_core.i18n import text
from billing_core.presentation import (
    cycle_name,
    licenses,
    line_days,
    line_description,
    product_name,
    scheduled_description,
)


def quote_text(quote: Quote, catalog: Catalog, intro: str | None = None) -> str:
    rows = [intro] if intro else []
    rows.append(text("quote_title"))
    for line in quote.lines:
        if line.cycle == "one_month":
            rows.append(text("quote_line_full", description=line_description(line, catalog),
                             amount=format_eur(line.amount)))
        else:
            rows.append(text("quote_line", description=line_description(line, catalog), days=line_days(line),
                             amount=format_eur(line.amount)))
    for change in quote.scheduled:
        rows.append(text("quote_scheduled", date=format_date(change.effective_on),
                         description=scheduled_description(change, catalog)))
    if quote.lines:
        rows.append(text("quote_net", amount=format_eur(quote.net)))
        if quote.balance_applied:
            rows.append(text("quote_balance", amount=format_eur(quote.balance_applied)))
        if quote.net > 0:
            if quote.tax_note:
                rows.append(text("quote_tax_note", note=text(f"tax_note_{quote.tax_note}")))
            else:
                rows.append(text("quote_tax", rate=format_tax_rate(quote.tax_rate), amount=format_eur(quote.tax)))
            rows.append(text("quote_total", amount=format_eur(quote.total)))
        else:
            rows.append(text("quote_credit_left", amount=format_eur(-quote.net)))
    else:
        rows.append(text("quote_nothing_now"))
    rows.append(text("quote_renewal", date=format_date(quote.next_renewal.date),
                     amount=format_eur(quote.next_renewal.amount)))
    return "\n".join(rows)


def confirm_buttons(with_cart: bool = True) -> list[dict]:
    buttons = [{"title": text("button_confirm"), "payload": "/affirm"}]
    if with_cart:
        buttons.append({"title": text("button_add_to_cart"), "payload": "/add_to_cart"})
    buttons.append({"title": text("button_deny"), "payload": "/deny"})
    return buttons


def cart_lines(cart: ChangeSet, catalog: Catalog) -> list[str]:
    rows = []
    if cart.plan:
        rows.append(text("cart_line_plan", plan=product_name(cart.plan, catalog)))
    if cart.licenses is not None:
        rows.append(text("cart_line_licenses", total=licenses(int(cart.licenses))))
    if cart.cycle:
        rows.append(text("cart_line_cycle", cycle=cycle_name(cart.cycle)))
    for purchase in cart.add_addons:
        name = product_name(purchase.sku, catalog)
        rows.append(text("cart_line_addon", addon=name if purchase.quantity == 1 else f"{purchase.quantity} × {name}"))
    for old, new in cart.addon_capacity:
        rows.append(text("cart_line_capacity", old=product_name(old, catalog), new=product_name(new, catalog)))
    for sku in cart.remove_addons:
        rows.append(text("cart_line_removal", addon=product_name(sku, catalog)))
    return rows
