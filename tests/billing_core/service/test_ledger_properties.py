"""Ledger invariants over random sequences of real orders (SQLite): quote total = what the order
charges, and the invoices add up to the payments plus the account's credit balance."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from billing_core.adapters import orm
from billing_core.adapters.mailer import RecordingMailer
from billing_core.adapters.notifier import RecordingNotifier
from billing_core.adapters.payment import SimulatedCardGateway
from billing_core.clock import ROME
from billing_core.domain.model import AddonPurchase, ChangeSet, Refused
from billing_core.service.bootstrap import bootstrap

CHANGES = st.one_of(
    st.integers(10, 40).map(lambda n: ChangeSet(licenses=n)),
    st.sampled_from(["monthly", "annual"]).map(lambda c: ChangeSet(cycle=c)),
    st.sampled_from(["webinar_500", "large_meeting_500", "cloud_recording_1tb", "webinar_500_1m"]).map(
        lambda sku: ChangeSet(add_addons=(AddonPurchase(sku),))),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(CHANGES, st.integers(0, 20)), min_size=1, max_size=6))
def test_orders_charge_their_quote_and_the_ledger_balances(steps, sqlite_url):
    service = bootstrap(sqlite_url, gateway=SimulatedCardGateway(), mailer=RecordingMailer(),
                        notifier=RecordingNotifier())
    account = f"acc{uuid.uuid4().hex[:8]}"
    today = dt.datetime(2026, 3, 1, 10, tzinfo=ROME)
    service.now = lambda: today
    service.create_account(account, plan="business", cycle="monthly", licenses=10, period_start=today.date(),
                           owner=f"o@{account}.it")
    for changes, days in steps:
        today = today + dt.timedelta(days=days)
        service.renew_due()
        try:
            quote = service.quote(account, changes)
        except Refused:
            continue
        result = service.place_order(account, changes, by=f"o@{account}.it", idempotency_key=uuid.uuid4().hex)
        assert result.quote["total"] == f"{quote.total:.2f}"
        assert result.charged == quote.total
    invoices = service.invoices(account)
    summary = service.account_summary(account)
    nets = sum(sum(D(line["amount"]) for line in inv["lines"]) for inv in invoices)
    taxable = sum(D(inv["taxable"]) for inv in invoices)
    # every euro of net either became taxable (and was paid) or moved through the balance
    assert nets + D(summary["balance"]) == taxable
    with service.uow() as uow:
        payments = uow.session.execute(select(orm.PaymentRow).where(orm.PaymentRow.account_id == account)).scalars()
        paid = sum(D(p.amount) for p in payments if p.status == "succeeded")
    assert paid == sum(D(inv["total"]) for inv in invoices)
