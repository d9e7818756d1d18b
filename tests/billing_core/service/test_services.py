"""Use cases over a real database (SQLite and PostgreSQL): orders, invoices, renewals, carts, handoffs."""
from __future__ import annotations

import datetime as dt
import email
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from billing_core.adapters import orm
from billing_core.domain.model import AddonPurchase, ChangeSet, InvalidRequest, Refused

d = dt.date


@pytest.fixture
def acme(service):
    service.create_account("acme", name="ACME S.r.l.", plan="pro", cycle="monthly", licenses=10,
                           period_start=d(2026, 11, 1), owner="anna@acme.it", vat_id="IT01234567890")
    service.add_user("acme", "luca@acme.it", "billing_admin", "Luca")
    service.add_user("acme", "marco@acme.it", "member", "Marco")
    return "acme"


def count(service, row) -> int:
    with service.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(row)).scalar_one()


def test_order_charges_exactly_the_quote_and_issues_a_numbered_invoice(service, clock, acme):
    clock.set(2026, 11, 16)
    quote = service.quote(acme, ChangeSet(plan="business"), "anna@acme.it")
    result = service.place_order(acme, ChangeSet(plan="business"), by="anna@acme.it", idempotency_key="k1")
    assert result.quote["total"] == f"{quote.total:.2f}" == "48.80"
    assert result.invoice_number == "2026/000001" and result.invoice_status == "paid"
    assert result.charged == D("48.80")
    invoices = service.invoices(acme)
    assert [(i["number"], i["taxable"], i["tax"], i["total"]) for i in invoices] == [
        ("2026/000001", "40.00", "8.80", "48.80")]
    assert [line["amount"] for line in invoices[0]["lines"]] == ["-69.95", "109.95"]
    summary = service.account_summary(acme)
    assert (summary["plan"], summary["licenses"]) == ("business", 10)
    # the next order gets the next progressive number
    service.place_order(acme, ChangeSet(licenses=12), by="luca@acme.it", idempotency_key="k2")
    assert [i["number"] for i in service.invoices(acme)] == ["2026/000001", "2026/000002"]


def test_same_idempotency_key_places_one_order_and_one_charge(service, clock, acme):
    first = service.place_order(acme, ChangeSet(licenses=12), by="anna@acme.it", idempotency_key="conv-1:q")
    again = service.place_order(acme, ChangeSet(licenses=12), by="anna@acme.it", idempotency_key="conv-1:q")
    assert again.replayed and again.order_id == first.order_id and again.invoice_number == first.invoice_number
    assert count(service, orm.OrderRow) == 1 and count(service, orm.PaymentRow) == 1
    assert service.account_summary(acme)["licenses"] == 12
    with pytest.raises(Refused) as refused:
        service.place_order(acme, ChangeSet(licenses=14), by="anna@acme.it", idempotency_key="conv-1:q")
    assert refused.value.code == "idempotency_key_reused"


def test_member_cannot_buy_and_is_told_who_can(service, acme):
    with pytest.raises(Refused) as refused:
        service.place_order(acme, ChangeSet(licenses=12), by="marco@acme.it", idempotency_key="m")
    assert refused.value.code == "no_billing_role" and "anna@acme.it" in refused.value.params["owner"]
    assert count(service, orm.OrderRow) == 0


def test_declined_card_leaves_invoice_unpaid_and_blocks_self_service(service, clock, acme):
    service.set_card(acme, "tok_decline", "0002")
    result = service.place_order(acme, ChangeSet(licenses=12), by="anna@acme.it", idempotency_key="k")
    assert result.invoice_status == "unpaid" and result.charged == D("0.00")
    blockers = service.edit_blockers(acme, "anna@acme.it")
    assert [b.code for b in blockers] == ["unpaid_invoices"]
    assert blockers[0].params["invoices"][0].number == result.invoice_number
    with pytest.raises(Refused) as refused:
        service.quote(acme, ChangeSet(licenses=13))
    assert refused.value.code == "unpaid_invoices"


def test_order_is_atomic_when_the_gateway_fails(service, acme):
    class BrokenGateway:
        def charge(self, *args):
            raise ConnectionError("gateway down")

    before = service.account_summary(acme)
    service.gateway = BrokenGateway()
    with pytest.raises(ConnectionError):
        service.place_order(acme, ChangeSet(licenses=12), by="anna@acme.it", idempotency_key="k")
    assert service.account_summary(acme) == before
    assert count(service, orm.InvoiceRow) == 0 and count(service, orm.OrderRow) == 0
    assert count(service, orm.InvoiceSequenceRow) == 0


def test_confirmation_email_carries_the_invoice_pdf(service, acme):
    result = service.place_order(acme, ChangeSet(licenses=12), by="luca@acme.it", idempotency_key="k")
    [message] = service.mailer.sent
    assert message["To"] == "luca@acme.it" and result.invoice_number in message["Subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF")


def test_negative_net_goes_to_balance_and_is_used_first_later(service, clock):
    service.create_account("big", plan="business", cycle="annual", licenses=12, period_start=d(2026, 3, 1),
                           owner="o@big.it")
    result = service.place_order("big", ChangeSet(cycle="monthly"), by="o@big.it", idempotency_key="a")
    assert result.quote["net"] == "-422.93" and result.quote["total"] == "0.00"
    assert service.account_summary("big")["balance"] == "422.93"
    # the next invoice (renewal on 26 December: 12 * 21.99 = 263.88) is paid from the balance
    clock.set(2026, 12, 26)
    [renewal] = service.renew_due()
    assert renewal["total"] == "0.00"
    assert service.account_summary("big")["balance"] == "159.05"


def test_renewal_applies_pending_downgrade_and_bills_new_period(service, clock, acme):
    service.place_order(acme, ChangeSet(licenses=8), by="anna@acme.it", idempotency_key="down")
    summary = service.account_summary(acme)
    assert (summary["licenses"], summary["pending_licenses"]) == (10, 8)
    assert [b.code for b in service.edit_blockers(acme, "anna@acme.it")] == ["pending_change"]
    clock.set(2026, 12, 1)
    [renewal] = service.renew_due()
    assert (renewal["licenses"], renewal["total"]) == (8, "136.54")  # 8 * 13.99 = 111.92 + 24.62 IVA
    summary = service.account_summary(acme)
    assert (summary["licenses"], summary["pending_licenses"], summary["period_end"]) == (8, None, "2027-01-01")
    assert service.renew_due() == []  # nothing is billed twice


def test_cart_collects_changes_and_the_order_empties_it(service, clock, acme):
    service.add_to_cart(acme, "anna@acme.it", ChangeSet(licenses=12))
    service.add_to_cart(acme, "anna@acme.it", ChangeSet(add_addons=(AddonPurchase("cloud_recording_1tb"),)))
    service.add_to_cart(acme, "anna@acme.it", ChangeSet(licenses=15))  # the license line is edited, not added
    cart = service.cart(acme, "anna@acme.it")
    assert str(cart.licenses) == "15" and [p.sku for p in cart.add_addons] == ["cloud_recording_1tb"]
    cart = service.save_cart(acme, "anna@acme.it", cart.without("cloud_recording_1tb"))
    assert cart.add_addons == ()
    service.place_order(acme, cart, by="anna@acme.it", idempotency_key="cart", clear_cart=True)
    assert service.cart(acme, "anna@acme.it").is_empty()
    assert service.account_summary(acme)["licenses"] == 15


def test_license_assignment_respects_seats_and_blocks_reductions(service, acme):
    for user in ("anna@acme.it", "luca@acme.it", "marco@acme.it"):
        service.assign(acme, "anna@acme.it", user)
    with pytest.raises(Refused) as refused:
        service.assign(acme, "anna@acme.it", "marco@acme.it")
    assert refused.value.code == "already_assigned"
    with pytest.raises(Refused) as refused:
        service.quote(acme, ChangeSet(licenses=2), "anna@acme.it")
    assert refused.value.code == "licenses_assigned"
    assert set(refused.value.params["holders"]) == {"anna@acme.it", "luca@acme.it", "marco@acme.it"}
    service.unassign(acme, "anna@acme.it", "marco@acme.it")
    service.quote(acme, ChangeSet(licenses=2), "anna@acme.it")
    with pytest.raises(Refused) as refused:
        service.assign(acme, "anna@acme.it", "nobody@else.it")
    assert refused.value.code == "user_not_in_account"
    with pytest.raises(Refused) as refused:
        service.assign(acme, "marco@acme.it", "marco@acme.it")
    assert refused.value.code == "no_billing_role"


def test_handoff_is_stored_notified_once_and_not_duplicated(service, acme):
    first = service.request_handoff(acme, "anna@acme.it", "enterprise", "voglio Enterprise", ["ciao", "enterprise"])
    again = service.request_handoff(acme, "anna@acme.it", "enterprise", "voglio Enterprise", ["di nuovo"])
    assert first.created and not again.created and again.handoff_id == first.handoff_id
    [summary] = service.notifier.sent
    assert (summary.account_id, summary.plan, summary.licenses) == ("acme", "pro", 10)
    assert summary.last_messages == ("ciao", "enterprise")
    assert count(service, orm.HandoffRow) == 1


def test_every_change_is_audited(service, acme):
    service.place_order(acme, ChangeSet(licenses=11), by="anna@acme.it", idempotency_key="a", channel="slack")
    with service.uow() as uow:
        rows = uow.session.execute(select(orm.AuditRow).where(orm.AuditRow.action == "order_placed")).scalars().all()
        assert [(r.actor, r.channel, r.details["changes"]["licenses"]) for r in rows] == [
            ("anna@acme.it", "slack", "11")]


def test_bad_input_is_refused_and_changes_nothing(service, acme):
    before = service.account_summary(acme)
    for call in (
        lambda: service.create_account("acme", plan="pro", cycle="monthly", licenses=1, period_start=d(2026, 1, 1)),
        lambda: service.create_account("x", plan="gold", cycle="monthly", licenses=1, period_start=d(2026, 1, 1)),
        lambda: service.create_account("y", plan="pro", cycle="weekly", licenses=1, period_start=d(2026, 1, 1)),
        lambda: service.add_user(acme, "not-an-email", "member"),
        lambda: service.add_user(acme, "x@acme.it", "boss"),
        lambda: service.add_user("nope", "x@acme.it", "member"),
        lambda: service.place_order(acme, ChangeSet(licenses="-1"), by="anna@acme.it", idempotency_key="z"),
        lambda: service.place_order(acme, ChangeSet(licenses="10000"), by="anna@acme.it", idempotency_key="z"),
        lambda: service.place_order(acme, ChangeSet(licenses=12), by="ghost@acme.it", idempotency_key="z"),
    ):
        with pytest.raises((InvalidRequest, Refused)):
            call()
    assert service.account_summary(acme) == before
    assert count(service, orm.AccountRow) == 1 and count(service, orm.OrderRow) == 0


def test_a_failed_invoice_email_never_undoes_a_charged_order(service, acme, monkeypatch):
    import billing_core.service.services as services

    def broken_pdf(document):
        raise RuntimeError("font missing")

    monkeypatch.setattr(services, "render_invoice_pdf", broken_pdf)
    result = service.place_order(acme, ChangeSet(licenses=12), by="anna@acme.it", idempotency_key="k")
    assert result.invoice_status == "paid" and service.mailer.sent == []
    assert [i["number"] for i in service.invoices(acme)] == [result.invoice_number]
    assert count(service, orm.PaymentRow) == 1


def test_an_order_against_a_stale_quote_is_refused_with_the_new_quote(service, clock, acme):
    from billing_core.service.views import quote_fingerprint

    seen = quote_fingerprint(service.quote(acme, ChangeSet(licenses=12)))
    service.place_order(acme, ChangeSet(licenses=15), by="luca@acme.it", idempotency_key="other-admin")
    with pytest.raises(Refused) as refused:
        service.place_order(acme, ChangeSet(licenses=12), by="anna@acme.it", idempotency_key="mine",
                            expected_quote=seen)
    assert refused.value.code == "quote_changed"
    assert refused.value.params["quote"].new_subscription.pending_licenses == 12  # now it would be a reduction
    assert service.account_summary(acme)["licenses"] == 15
