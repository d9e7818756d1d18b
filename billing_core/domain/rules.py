"""The billing rules: who may edit, what a change costs, what a renewal bills (pure functions)."""
from __future__ import annotations

import datetime as dt
from dataclasses import fields, replace
from decimal import Decimal, InvalidOperation

from billing_core.domain.catalog import Catalog, Party
from billing_core.domain.model import (
    BILLING_ROLES,
    ONE_MONTH,
    AccountState,
    Actor,
    AddonItem,
    AddonPurchase,
    ChangeSet,
    InvalidRequest,
    InvoiceTotals,
    Quote,
    QuoteLine,
    Refused,
    Renewal,
    ScheduledChange,
    Subscription,
    TaxProfile,
)
from billing_core.domain.proration import add_months, anniversary_period, period_end, prorate, round_half_up

ZERO = Decimal("0.00")
EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)


# --- Why self-service editing is disabled -------------------------------------------------

def edit_blockers(state: AccountState, actor: Actor | None, catalog: Catalog) -> list[Refused]:
    """Every reason that stops ``actor`` from changing ``state`` by self-service, most basic first."""
    blockers: list[Refused] = []
    if actor is not None and actor.role not in BILLING_ROLES:
        blockers.append(Refused("no_billing_role", role=actor.role))
    plan_spec = catalog.plans.get(state.subscription.plan)
    if state.sales_managed_reason or (plan_spec is not None and plan_spec.sales_only):
        blockers.append(Refused(
            "sales_managed",
            reason=state.sales_managed_reason or "enterprise",
            account_executive=state.account_executive,
        ))
    if state.unpaid_invoices:
        blockers.append(Refused("unpaid_invoices", invoices=state.unpaid_invoices))
    if state.subscription.has_pending_change:
        blockers.append(Refused("pending_change", changes=pending_changes(state.subscription)))
    return blockers


def pending_changes(sub: Subscription) -> tuple[ScheduledChange, ...]:
    changes = []
    if sub.pending_plan is not None:
        changes.append(ScheduledChange("plan", sub.plan, sub.pending_plan, sub.period_end))
    if sub.pending_licenses is not None:
        changes.append(ScheduledChange("licenses", str(sub.licenses), str(sub.pending_licenses), sub.period_end))
    for item in sub.addons:
        if item.pending_removal:
            changes.append(ScheduledChange("addon_removal", item.sku, "", item.period_end))
        elif item.pending_sku:
            changes.append(ScheduledChange("addon_capacity", item.sku, item.pending_sku, item.period_end))
    return tuple(changes)


# --- Validation -----------------------------------------------------------------------------

def license_total(raw: object, plan: str, catalog: Catalog) -> int:
    """The license TOTAL as a whole number inside the plan's range, or a refusal with the range."""
    spec = catalog.plan(plan)
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        value = None
    if value is None or not value.is_finite() or value != value.to_integral_value() or value < 1:
        raise Refused("invalid_quantity", requested=str(raw), minimum=spec.min_licenses,
                      maximum=spec.max_licenses, plan=plan)
    total = int(value)
    if total < spec.min_licenses:
        if plan == "business":
            raise Refused("business_minimum", requested=total, minimum=spec.min_licenses)
        raise Refused("invalid_quantity", requested=str(raw), minimum=spec.min_licenses,
                      maximum=spec.max_licenses, plan=plan)
    if total > spec.max_licenses:
        raise Refused("invalid_quantity", requested=str(raw), minimum=spec.min_licenses,
                      maximum=spec.max_licenses, plan=plan)
    return total


def _known_plan(sku: str, catalog: Catalog) -> None:
    if sku not in catalog.plans:
        raise InvalidRequest("unknown_plan", sku=sku, known=", ".join(catalog.plans))


def _known_addon(sku: str, catalog: Catalog) -> None:
    if sku not in catalog.addons:
        raise InvalidRequest("unknown_addon", sku=sku, known=", ".join(catalog.addons))


def _known_cycle(cycle: str | None) -> None:
    if cycle is not None and cycle not in ("monthly", "annual"):
        raise InvalidRequest("unknown_cycle", cycle=cycle)


# --- Taxes and totals -----------------------------------------------------------------------

def tax_profile(customer: Party, catalog: Catalog) -> TaxProfile:
    """IVA 22% in Italy; reverse charge for an EU business outside Italy; none outside the EU."""
    country = (customer.country or "IT").upper()
    if country == "IT":
        return TaxProfile(catalog.domestic_tax_rate, None)
    if country in EU_COUNTRIES:
        if customer.vat_id:
            return TaxProfile(Decimal("0"), "reverse_charge")
        return TaxProfile(catalog.domestic_tax_rate, None)
    return TaxProfile(Decimal("0"), "outside_eu")


def invoice_totals(net: Decimal, balance: Decimal, profile: TaxProfile) -> InvoiceTotals:
    """Apply the credit balance first, then IVA on what is left, rounded once half-up."""
    if net <= 0:
        return InvoiceTotals(net, ZERO, ZERO, profile.rate, ZERO, ZERO, balance - net, profile.note)
    applied = min(balance, net) if balance > 0 else ZERO
    taxable = net - applied
    tax = round_half_up(taxable * profile.rate)
    return InvoiceTotals(net, applied, taxable, profile.rate, tax, taxable + tax, balance - applied, profile.note)


# --- Pricing a change -----------------------------------------------------------------------

def _line(kind: str, sku: str, quantity: int, unit_price: Decimal, start: dt.date, end: dt.date,
          today: dt.date, cycle: str) -> QuoteLine:
    amount, days, period_days = prorate(unit_price, quantity, start, end, today)
    return QuoteLine(kind, sku, quantity, unit_price, today, end, days, period_days,
                     -amount if kind == "credit" else amount, cycle)


def _full_line(sku: str, quantity: int, unit_price: Decimal, start: dt.date, end: dt.date, cycle: str) -> QuoteLine:
    days = (end - start).days
    return QuoteLine("charge", sku, quantity, unit_price, start, end, days, days,
                     round_half_up(unit_price * quantity), cycle)


def _addon_period(sub: Subscription, cycle: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """Recurring add-ons are co-termed with the plan: anchored on the plan period's start."""
    return anniversary_period(sub.period_start, cycle, today)


def quote_change(state: AccountState, changes: ChangeSet, catalog: Catalog, today: dt.date,
                 actor: Actor | None = None) -> Quote:
    """Price ``changes`` on ``today``; raises Refused/InvalidRequest. Orders charge exactly this."""
    sub = state.subscription
    if changes.is_empty():
        raise Refused("no_change", plan=sub.plan, licenses=sub.licenses, cycle=sub.cycle)
    blockers = edit_blockers(state, actor, catalog)
    if blockers:
        raise blockers[0]
    _validate_skus(changes, catalog)
    if changes.plan and catalog.plan(changes.plan).sales_only:
        raise Refused("enterprise_sales_only", account_executive=state.account_executive)

    target_plan = changes.plan or sub.plan
    target_cycle = changes.cycle or sub.cycle
    target_licenses = sub.licenses if changes.licenses is None else license_total(changes.licenses, target_plan, catalog)
    if changes.licenses is None:
        # A plan change keeps the license total, which must still fit the new plan.
        spec = catalog.plan(target_plan)
        if target_licenses < spec.min_licenses:
            raise Refused("business_minimum" if target_plan == "business" else "invalid_quantity",
                          requested=target_licenses, minimum=spec.min_licenses, maximum=spec.max_licenses,
                          plan=target_plan)
        if target_licenses > spec.max_licenses:
            raise Refused("invalid_quantity", requested=target_licenses, minimum=spec.min_licenses,
                          maximum=spec.max_licenses, plan=target_plan)
    if target_licenses < len(state.license_holders):
        raise Refused("licenses_assigned", requested=target_licenses, holders=state.license_holders)

    if target_cycle != sub.cycle:
        lines, new_sub, scheduled = _price_cycle_switch(sub, changes, catalog, today, target_plan,
                                                        target_cycle, target_licenses)
    else:
        lines, new_sub, scheduled = _price_same_cycle(sub, changes, catalog, today, target_plan, target_licenses)
    if not lines and not scheduled and new_sub == sub:
        raise Refused("no_change", plan=sub.plan, licenses=sub.licenses, cycle=sub.cycle)

    money = invoice_totals(sum((line.amount for line in lines), ZERO), state.balance,
                           tax_profile(state.customer, catalog))
    return Quote(
        **{f.name: getattr(money, f.name) for f in fields(InvoiceTotals)},
        change_day=today,
        lines=tuple(lines),
        scheduled=tuple(scheduled),
        effective="immediate" if lines else "period_end",
        next_renewal=next_renewal(new_sub, catalog),
        old_subscription=sub,
        new_subscription=new_sub,
    )


def _validate_skus(changes: ChangeSet, catalog: Catalog) -> None:
    if changes.plan:
        _known_plan(changes.plan, catalog)
    _known_cycle(changes.cycle)
    for purchase in changes.add_addons:
        _known_addon(purchase.sku, catalog)
        _known_cycle(purchase.cycle)
        if not isinstance(purchase.quantity, int) or purchase.quantity < 1:
            raise Refused("invalid_quantity", requested=str(purchase.quantity), minimum=1, maximum=None,
                          plan=purchase.sku)
    for old, new in changes.addon_capacity:
        _known_addon(old, catalog)
        _known_addon(new, catalog)
    for sku in changes.remove_addons:
        _known_addon(sku, catalog)


def _owned(sub: Subscription, sku: str) -> AddonItem:
    for item in sub.addons:
        if item.recurring and item.sku == sku:
            return item
    raise Refused("addon_not_owned", sku=sku)


def _check_addon_cycle(sub: Subscription, sku: str, cycle: str, plan_cycle: str,
                       ignore: AddonItem | None = None) -> None:
    if cycle == "annual" and plan_cycle != "annual":
        raise Refused("annual_addon_needs_annual_plan", sku=sku)
    for item in sub.addons:
        if item is not ignore and item.recurring and item.sku == sku and item.cycle != cycle:
            raise Refused("addon_cycle_conflict", sku=sku, held_cycle=item.cycle, requested_cycle=cycle)


def _price_same_cycle(sub: Subscription, changes: ChangeSet, catalog: Catalog, today: dt.date,
                      target_plan: str, target_licenses: int):
    lines: list[QuoteLine] = []
    scheduled: list[ScheduledChange] = []
    new_sub = sub
    plan_rank, target_rank = catalog.plan(sub.plan).rank, catalog.plan(target_plan).rank
    price = catalog.plan_price

    if target_rank > plan_rank:  # upgrade: credit old plan, charge new plan, same period
        seats = max(sub.licenses, target_licenses)
        lines.append(_line("credit", sub.plan, sub.licenses, price(sub.plan, sub.cycle),
                           sub.period_start, sub.period_end, today, sub.cycle))
        lines.append(_line("charge", target_plan, seats, price(target_plan, sub.cycle),
                           sub.period_start, sub.period_end, today, sub.cycle))
        new_sub = replace(new_sub, plan=target_plan, licenses=seats)
    elif target_rank < plan_rank:  # downgrade: at period end, nothing now
        scheduled.append(ScheduledChange("plan", sub.plan, target_plan, sub.period_end))
        new_sub = replace(new_sub, pending_plan=target_plan)
        if target_licenses > sub.licenses:
            lines.append(_line("charge", sub.plan, target_licenses - sub.licenses, price(sub.plan, sub.cycle),
                               sub.period_start, sub.period_end, today, sub.cycle))
            new_sub = replace(new_sub, licenses=target_licenses)
    elif target_licenses > sub.licenses:  # more licenses: charge the added ones for the remaining days
        lines.append(_line("charge", sub.plan, target_licenses - sub.licenses, price(sub.plan, sub.cycle),
                           sub.period_start, sub.period_end, today, sub.cycle))
        new_sub = replace(new_sub, licenses=target_licenses)
    if target_licenses < sub.licenses:  # fewer licenses: at period end, no refund
        scheduled.append(ScheduledChange("licenses", str(sub.licenses), str(target_licenses), sub.period_end))
        new_sub = replace(new_sub, pending_licenses=target_licenses)

    addons = list(new_sub.addons)
    for old_sku, new_sku in changes.addon_capacity:
        item = _owned(new_sub, old_sku)
        old_spec, new_spec = catalog.addon(old_sku), catalog.addon(new_sku)
        if new_spec.one_off or new_spec.family != old_spec.family:
            raise Refused("addon_capacity_mismatch", old=old_sku, new=new_sku)
        if new_spec.capacity == old_spec.capacity:
            continue
        _check_addon_cycle(new_sub, new_sku, item.cycle, sub.cycle, ignore=item)
        index = addons.index(item)
        if new_spec.capacity > old_spec.capacity:
            lines.append(_line("credit", old_sku, item.quantity, catalog.addon_price(old_sku, item.cycle),
                               item.period_start, item.period_end, today, item.cycle))
            lines.append(_line("charge", new_sku, item.quantity, catalog.addon_price(new_sku, item.cycle),
                               item.period_start, item.period_end, today, item.cycle))
            same = next((other for other in addons if other.recurring and other.sku == new_sku), None)
            if same is not None:  # already holds the bigger one: one item with both quantities
                addons[addons.index(same)] = replace(same, quantity=same.quantity + item.quantity)
                addons.pop(index)
            else:
                addons[index] = replace(item, sku=new_sku)
        else:
            scheduled.append(ScheduledChange("addon_capacity", old_sku, new_sku, item.period_end))
            addons[index] = replace(item, pending_sku=new_sku)
        new_sub = replace(new_sub, addons=tuple(addons))

    for sku in changes.remove_addons:
        item = _owned(new_sub, sku)
        scheduled.append(ScheduledChange("addon_removal", sku, "", item.period_end))
        addons[addons.index(item)] = replace(item, pending_removal=True)
        new_sub = replace(new_sub, addons=tuple(addons))

    for purchase in changes.add_addons:
        spec = catalog.addon(purchase.sku)
        if spec.one_off:
            end = add_months(today, spec.duration_months or 1)
            lines.append(_full_line(purchase.sku, purchase.quantity, spec.one_off_price, today, end, ONE_MONTH))
            addons.append(AddonItem(purchase.sku, purchase.quantity, ONE_MONTH, today, end))
            new_sub = replace(new_sub, addons=tuple(addons))
            continue
        cycle = purchase.cycle or sub.cycle
        _check_addon_cycle(new_sub, purchase.sku, cycle, sub.cycle)
        existing = next((i for i in addons if i.recurring and i.sku == purchase.sku), None)
        start, end = (existing.period_start, existing.period_end) if existing else _addon_period(sub, cycle, today)
        lines.append(_line("charge", purchase.sku, purchase.quantity, catalog.addon_price(purchase.sku, cycle),
                           start, end, today, cycle))
        if existing is not None:
            addons[addons.index(existing)] = replace(existing, quantity=existing.quantity + purchase.quantity)
        else:
            addons.append(AddonItem(purchase.sku, purchase.quantity, cycle, start, end))
        new_sub = replace(new_sub, addons=tuple(addons))
    return lines, new_sub, scheduled


def _price_cycle_switch(sub: Subscription, changes: ChangeSet, catalog: Catalog, today: dt.date,
                        target_plan: str, target_cycle: str, target_licenses: int):
    """A new period of the other cycle starts today, bought with the target configuration.

    The unused days of the old period (plan and recurring add-ons) are credited; since the old
    period ends today, plan downgrades, fewer licenses and add-on removals in the same cart take
    effect now instead of being scheduled for a period end that no longer comes.
    """
    lines: list[QuoteLine] = []
    new_end = period_end(today, target_cycle)
    lines.append(_line("credit", sub.plan, sub.licenses, catalog.plan_price(sub.plan, sub.cycle),
                       sub.period_start, sub.period_end, today, sub.cycle))
    for item in sub.recurring_addons():
        lines.append(_line("credit", item.sku, item.quantity, catalog.addon_price(item.sku, item.cycle),
                           item.period_start, item.period_end, today, item.cycle))
    lines.append(_full_line(target_plan, target_licenses, catalog.plan_price(target_plan, target_cycle),
                            today, new_end, target_cycle))

    capacity = dict(changes.addon_capacity)
    for old_sku in capacity:
        _owned(sub, old_sku)
    for sku in changes.remove_addons:
        _owned(sub, sku)
    quantities: dict[str, int] = {}
    for item in sub.recurring_addons():
        if item.sku in changes.remove_addons:
            continue
        sku = capacity.get(item.sku, item.sku)
        quantities[sku] = quantities.get(sku, 0) + item.quantity
    one_offs = [item for item in sub.addons if not item.recurring]
    new_lines_one_off = []
    for purchase in changes.add_addons:
        spec = catalog.addon(purchase.sku)
        if spec.one_off:
            end = add_months(today, spec.duration_months or 1)
            new_lines_one_off.append(_full_line(purchase.sku, purchase.quantity, spec.one_off_price, today, end,
                                                ONE_MONTH))
            one_offs.append(AddonItem(purchase.sku, purchase.quantity, ONE_MONTH, today, end))
            continue
        if purchase.cycle and purchase.cycle != target_cycle:
            if purchase.cycle == "annual":
                raise Refused("annual_addon_needs_annual_plan", sku=purchase.sku)
            raise Refused("addon_cycle_conflict", sku=purchase.sku, held_cycle=target_cycle,
                          requested_cycle=purchase.cycle)
        quantities[purchase.sku] = quantities.get(purchase.sku, 0) + purchase.quantity
    new_addons = []
    for sku, quantity in quantities.items():
        lines.append(_full_line(sku, quantity, catalog.addon_price(sku, target_cycle), today, new_end, target_cycle))
        new_addons.append(AddonItem(sku, quantity, target_cycle, today, new_end))
    lines.extend(new_lines_one_off)
    new_sub = Subscription(target_plan, target_cycle, target_licenses, today, new_end,
                           addons=tuple(new_addons + one_offs))
    return lines, new_sub, []


# --- Renewals -------------------------------------------------------------------------------

def next_renewal(sub: Subscription, catalog: Catalog) -> Renewal:
    """The next date something renews at full price, and what it costs then (IVA excluded)."""
    recurring = [item for item in sub.addons if item.recurring and not item.pending_removal]
    day = min([sub.period_end] + [item.period_end for item in recurring])
    amount = ZERO
    if sub.period_end == day:
        plan = sub.pending_plan or sub.plan
        licenses = sub.pending_licenses or sub.licenses
        amount += catalog.plan_price(plan, sub.cycle) * licenses
    for item in recurring:
        if item.period_end == day:
            amount += catalog.addon_price(item.pending_sku or item.sku, item.cycle) * item.quantity
    return Renewal(day, round_half_up(amount))


def renew(sub: Subscription, catalog: Catalog, today: dt.date) -> tuple[list[QuoteLine], Subscription]:
    """Every period that ended by ``today`` renews: pending changes apply, one-month items expire,
    and the new periods are billed at catalog prices."""
    lines: list[QuoteLine] = []
    while sub.period_end <= today:
        start, end = sub.period_end, period_end(sub.period_end, sub.cycle)
        sub = replace(sub, plan=sub.pending_plan or sub.plan, licenses=sub.pending_licenses or sub.licenses,
                      period_start=start, period_end=end, pending_plan=None, pending_licenses=None)
        lines.append(_full_line(sub.plan, sub.licenses, catalog.plan_price(sub.plan, sub.cycle), start, end,
                                sub.cycle))
    kept: list[AddonItem] = []
    for item in sub.addons:
        if not item.recurring:
            if item.period_end > today:
                kept.append(item)
            continue
        while item is not None and item.period_end <= today:
            if item.pending_removal:
                item = None
                break
            start = item.period_end
            end = (anniversary_period(sub.period_start, item.cycle, start)[1] if start >= sub.period_start
                   else period_end(start, item.cycle))
            item = replace(item, sku=item.pending_sku or item.sku, pending_sku=None,
                           period_start=start, period_end=end)
            lines.append(_full_line(item.sku, item.quantity, catalog.addon_price(item.sku, item.cycle), start, end,
                                    item.cycle))
        if item is not None:
            kept.append(item)
    return lines, replace(sub, addons=tuple(kept))
