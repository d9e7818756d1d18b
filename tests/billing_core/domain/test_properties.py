"""Invariants of proration and of the ledger, checked with hypothesis on generated cases."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing_core.domain.catalog import AccountExecutive, load_catalog
from billing_core.domain.documents import Party
from billing_core.domain.model import AccountState, ChangeSet, Subscription
from billing_core.domain.proration import period_end, prorate, round_half_up
from billing_core.domain.rules import quote_change

CATALOG = load_catalog()
starts = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2030, 12, 31))
cycles = st.sampled_from(["monthly", "annual"])


def account(sub: Subscription, balance: D = D("0.00")) -> AccountState:
    return AccountState("a", "A", sub, balance, Party("A", "", "IT", "IT1", None),
                        AccountExecutive("AE", "ae@x.it", 24))


@given(start=starts, cycle=cycles, licenses=st.integers(1, 99))
def test_upgrade_on_the_first_day_costs_the_full_period_difference(start, cycle, licenses):
    licenses = max(licenses, 10)
    sub = Subscription("pro", cycle, licenses, start, period_end(start, cycle))
    quote = quote_change(account(sub), ChangeSet(plan="business"), CATALOG, start)
    full_difference = (CATALOG.plan_price("business", cycle) - CATALOG.plan_price("pro", cycle)) * licenses
    assert quote.net == full_difference


@given(start=starts, cycle=cycles, licenses=st.integers(10, 99))
def test_upgrade_on_the_last_day_costs_one_days_worth(start, cycle, licenses):
    end = period_end(start, cycle)
    sub = Subscription("pro", cycle, licenses, start, end)
    quote = quote_change(account(sub), ChangeSet(plan="business"), CATALOG, end - dt.timedelta(days=1))
    days = (end - start).days
    one_day = lambda sku: round_half_up(CATALOG.plan_price(sku, cycle) * licenses / days)  # noqa: E731
    assert [line.days for line in quote.lines] == [1, 1]
    assert quote.net == one_day("business") - one_day("pro")


@given(start=starts, cycle=cycles, licenses=st.integers(10, 99), offset=st.integers(0, 400),
       target=st.sampled_from(["plan", "cycle"]))
@example(start=dt.date(2024, 4, 1), cycle="monthly", licenses=15, offset=173, target="plan")  # 48.965 -> 48.97
def test_credits_never_exceed_what_was_paid_for_the_remaining_days(start, cycle, licenses, offset, target):
    end = period_end(start, cycle)
    today = start + dt.timedelta(days=offset % (end - start).days)
    sub = Subscription("pro", cycle, licenses, start, end)
    change = ChangeSet(plan="business") if target == "plan" else ChangeSet(
        cycle="annual" if cycle == "monthly" else "monthly")
    quote = quote_change(account(sub), change, CATALOG, today)
    paid_per_license = CATALOG.plan_price("pro", cycle)
    for line in quote.lines:
        if line.kind == "credit":
            # exact arithmetic, rounded once: multiply before dividing, as the rule says
            paid_for_remaining = paid_per_license * licenses * line.days / line.period_days
            assert -line.amount <= round_half_up(paid_for_remaining)
            assert -line.amount <= paid_per_license * licenses


@given(unit=st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2), quantity=st.integers(1, 999),
       start=starts, cycle=cycles, offset=st.integers(0, 400))
def test_prorated_amount_is_rounded_once_and_bounded_by_the_full_price(unit, quantity, start, cycle, offset):
    end = period_end(start, cycle)
    today = start + dt.timedelta(days=offset % (end - start).days)
    amount, days, period_days = prorate(unit, quantity, start, end, today)
    exact = unit * quantity * days / period_days
    assert abs(amount - exact) <= D("0.005")
    assert D("0") <= amount <= unit * quantity
    assert amount == amount.quantize(D("0.01"))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(balance=st.decimals(min_value=D("0"), max_value=D("3000"), places=2), licenses=st.integers(10, 60),
       extra=st.integers(1, 30), day=st.integers(0, 364))
def test_totals_add_up_with_any_balance(balance, licenses, extra, day):
    start = dt.date(2026, 3, 1)
    sub = Subscription("business", "annual", licenses, start, period_end(start, "annual"))
    quote = quote_change(account(sub, balance), ChangeSet(licenses=licenses + extra), CATALOG,
                         start + dt.timedelta(days=day))
    assert quote.net == sum(line.amount for line in quote.lines)
    assert quote.taxable + quote.balance_applied == quote.net
    assert quote.balance_after == balance - quote.balance_applied >= 0
    assert quote.total == quote.taxable + quote.tax
    assert quote.tax == round_half_up(quote.taxable * D("0.22"))
