"""Use cases of the billing engine, each one transaction over the unit of work.

Quote and order share one code path (``quote_change``): what was quoted is what is charged.
Side effects outside the database (e-mail, notifications) run after the commit.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from sqlalchemy.exc import IntegrityError

from billing_core import clock
from billing_core.adapters import orm
from billing_core.adapters.invoice_pdf import render_invoice_pdf
from billing_core.adapters.mailer import Mailer, build_order_confirmation
from billing_core.adapters.notifier import Notifier
from billing_core.adapters.payment import PaymentGateway
from billing_core.adapters.repository import BillingRepository, customer_party
from billing_core.domain.catalog import Catalog
from billing_core.domain.documents import DocumentLine, HandoffSummary, InvoiceDocument, Party
from billing_core.domain.model import (
    BILLING_ROLES,
    ROLES,
    AddonItem,
    ChangeSet,
    InvalidRequest,
    InvoiceTotals,
    Quote,
    QuoteLine,
    Refused,
)
from billing_core.domain.proration import period_end
from billing_core.domain.rules import edit_blockers, invoice_totals, license_total, quote_change, renew, tax_profile
from billing_core.i18n import text
from billing_core.presentation import line_title
from billing_core.service.unit_of_work import UnitOfWork
from billing_core.service.views import fingerprint, line_dict, quote_dict, quote_fingerprint

log = logging.getLogger(__name__)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class OrderResult:
    order_id: int
    replayed: bool
    quote: dict
    invoice_number: str | None
    invoice_status: str | None
    charged: Decimal
    placed_by: str


@dataclass(frozen=True)
class HandoffResult:
    handoff_id: int
    created: bool
    account_executive_name: str
    account_executive_email: str
    callback_hours: int


@dataclass
class BillingService:
    session_factory: Callable
    catalog: Catalog
    gateway: PaymentGateway
    mailer: Mailer
    notifier: Notifier
    now: Callable[[], dt.datetime] = clock.now
    sender: str = field(default="")

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.session_factory, read_only=read_only)

    def today(self) -> dt.date:
        return self.now().date()

    # --- accounts and users ----------------------------------------------------------------
    def create_account(self, account_id: str, *, name: str | None = None, plan: str, cycle: str, licenses: object,
                       period_start: dt.date, owner: str | None = None, country: str = "IT",
                       vat_id: str | None = None, fiscal_code: str | None = None, address: str = "",
                       sales_managed_reason: str | None = None, card_token: str = "tok_ok") -> None:
        if plan not in self.catalog.plans:
            raise InvalidRequest("unknown_plan", sku=plan, known=", ".join(self.catalog.plans))
        if cycle not in ("monthly", "annual"):
            raise InvalidRequest("unknown_cycle", cycle=cycle)
        total = int(licenses) if self.catalog.plan(plan).sales_only else license_total(licenses, plan, self.catalog)
        if owner is not None:
            _check_email(owner)
        with self.uow() as uow:
            if uow.repo.account_exists(account_id):
                raise InvalidRequest("account_exists", account=account_id)
            account = orm.AccountRow(id=account_id, name=name or account_id, address=address, country=country.upper(),
                                     vat_id=vat_id, fiscal_code=fiscal_code, balance=Decimal("0"),
                                     sales_managed_reason=sales_managed_reason, card_token=card_token,
                                     version=0, created_at=self.now())
            uow.repo.add(account)
            uow.repo.add(orm.SubscriptionRow(account_id=account_id, plan=plan, cycle=cycle, licenses=total,
                                             period_start=period_start, period_end=period_end(period_start, cycle)))
            uow.session.flush()
            if owner is not None:
                self._add_user(uow, account_id, owner, "owner", "")
            uow.repo.audit(account_id, "cli", "cli", "account_created",
                           {"plan": plan, "cycle": cycle, "licenses": total}, self.now())
            uow.commit()

    def add_user(self, account_id: str, email: str, role: str, name: str = "", *, by: str = "cli",
                 channel: str = "cli") -> None:
        with self.uow() as uow:
            uow.repo.account(account_id)
            self._add_user(uow, account_id, email, role, name)
            uow.repo.audit(account_id, by, channel, "user_added", {"email": email, "role": role}, self.now())
            uow.commit()

    def _add_user(self, uow: UnitOfWork, account_id: str, email: str, role: str, name: str) -> None:
        _check_email(email)
        if role not in ROLES:
            raise InvalidRequest("unknown_role", role=role)
        if uow.repo.user(email) is not None:
            raise InvalidRequest("user_exists", email=email)
        uow.repo.add(orm.UserRow(account_id=account_id, email=email.strip().lower(), name=name, role=role))
        uow.session.flush()

    def link_slack(self, email: str, slack_user_id: str) -> None:
        with self.uow() as uow:
            user = uow.repo.user(email)
            if user is None:
                raise InvalidRequest("unknown_email", email=email)
            other = uow.repo.user_by_slack_id(slack_user_id)
            if other is not None and other.id != user.id:
                raise InvalidRequest("slack_id_taken", slack_user_id=slack_user_id, email=other.email)
            user.slack_user_id = slack_user_id
            uow.repo.audit(user.account_id, email, "cli", "slack_linked", {"slack_user_id": slack_user_id}, self.now())
            uow.commit()

    def identity(self, email: str) -> dict:
        """Who an e-mail is: account, role, name (for tokens and the assistant's greeting)."""
        with self.uow(read_only=True) as uow:
            user = uow.repo.user(email)
            if user is None:
                raise InvalidRequest("unknown_email", email=email)
            return {"email": user.email, "account_id": user.account_id, "role": user.role, "name": user.name}

    def set_card(self, account_id: str, card_token: str, last4: str) -> None:
        with self.uow() as uow:
            account = uow.repo.account(account_id, lock=True)
            account.card_token, account.card_last4 = card_token, last4
            uow.repo.audit(account_id, "cli", "cli", "card_changed", {"last4": last4}, self.now())
            uow.commit()

    def account_summary(self, account_id: str) -> dict:
        with self.uow(read_only=True) as uow:
            account = uow.repo.account(account_id)
            state = uow.repo.state(account, self.catalog)
            sub = state.subscription
            assignments = uow.repo.assignments(account_id)
            return {
                "account": account.id,
                "name": account.name,
                "country": account.country,
                "vat_id": account.vat_id,
                "plan": sub.plan,
                "cycle": sub.cycle,
                "licenses": sub.licenses,
                "pending_plan": sub.pending_plan,
                "pending_licenses": sub.pending_licenses,
                "period_start": sub.period_start.isoformat(),
                "period_end": sub.period_end.isoformat(),
                "addons": [_addon_dict(item) for item in sub.addons],
                "balance": f"{state.balance:.2f}",
                "assigned_licenses": len(state.license_holders),
                "license_holders": list(state.license_holders),
                "assignments": [{"email": a.user_email, "product": a.product} for a in assignments],
                "users": [{"email": u.email, "name": u.name, "role": u.role, "slack_user_id": u.slack_user_id}
                          for u in uow.repo.users(account_id)],
                "sales_managed": state.sales_managed_reason,
                "account_executive": {"name": state.account_executive.name,
                                      "email": state.account_executive.email},
                "card_last4": account.card_last4,
                "invoices": [_invoice_summary(inv) for inv in uow.repo.invoices(account_id)],
            }

    # --- why self-service editing is blocked ------------------------------------------------
    def edit_blockers(self, account_id: str, user_email: str | None = None) -> list[Refused]:
        with self.uow(read_only=True) as uow:
            account = uow.repo.account(account_id)
            actor = uow.repo.actor(account_id, user_email) if user_email else None
            blockers = edit_blockers(uow.repo.state(account, self.catalog), actor, self.catalog)
            return [self._with_owner(uow, account_id, refusal) for refusal in blockers]

    def _with_owner(self, uow: UnitOfWork, account_id: str, refusal: Refused) -> Refused:
        if refusal.code == "no_billing_role":
            owners = [u.email for u in uow.repo.users(account_id) if u.role in BILLING_ROLES]
            refusal.params["owner"] = ", ".join(owners) or "il proprietario"
        return refusal

    # --- quotes and orders -------------------------------------------------------------------
    def quote(self, account_id: str, changes: ChangeSet, user_email: str | None = None) -> Quote:
        today = self.today()
        with self.uow(read_only=True) as uow:
            account = uow.repo.account(account_id)
            actor = uow.repo.actor(account_id, user_email) if user_email else None
            try:
                return quote_change(uow.repo.state(account, self.catalog), changes, self.catalog, today, actor)
            except Refused as refusal:
                raise self._with_owner(uow, account_id, refusal)

    def place_order(self, account_id: str, changes: ChangeSet, *, by: str, idempotency_key: str,
                    channel: str = "cli", expected_quote: str | None = None, clear_cart: bool = False) -> OrderResult:
        """Atomic and idempotent: invoice, payment, subscription change and audit row land together,
        and the same key returns the first order instead of placing a second one."""
        request = fingerprint(changes.to_dict())
        for attempt in range(3):
            try:
                result, document, recipient = self._place_order_once(
                    account_id, changes, by, idempotency_key, channel, expected_quote, clear_cart, request)
                break
            except IntegrityError:
                # A concurrent request with the same key committed first (possible only where the
                # account lock is not honoured): the retry finds its order and returns it.
                if attempt == 2:
                    raise
        if document is not None:
            self._send_confirmation(document, recipient)
        return result

    def _place_order_once(self, account_id, changes, by, key, channel, expected_quote, clear_cart, request):
        now = self.now()
        today = now.date()
        with self.uow() as uow:
            account = uow.repo.account(account_id, lock=True)
            existing = uow.repo.order_by_key(account_id, key)
            if existing is not None:
                if existing.request_fingerprint != request:
                    raise Refused("idempotency_key_reused")
                return _order_result(existing, replayed=True), None, None
            actor = uow.repo.actor(account_id, by)
            state = uow.repo.state(account, self.catalog)
            try:
                quote = quote_change(state, changes, self.catalog, today, actor)
            except Refused as refusal:
                raise self._with_owner(uow, account_id, refusal)
            quoted = quote_fingerprint(quote)
            if expected_quote is not None and expected_quote != quoted:
                raise Refused("quote_changed", quote=quote)
            account.balance = quote.balance_after
            uow.repo.save_subscription(account, quote.new_subscription)
            invoice = None
            if quote.lines:
                invoice = self._issue_invoice(uow, account, quote.lines, quote, today, "order",
                                              f"order:{account_id}:{key}")
            order = orm.OrderRow(account_id=account_id, idempotency_key=key, request_fingerprint=request,
                                 placed_by=actor.email, channel=channel, placed_at=now, changes=changes.to_dict(),
                                 quote=quote_dict(quote), invoice=invoice)
            uow.repo.add(order)
            if clear_cart:
                cart = uow.repo.cart(account_id, actor.email)
                if cart is not None:
                    uow.session.delete(cart)
            uow.repo.audit(account_id, actor.email, channel, "order_placed",
                           {"changes": changes.to_dict(), "invoice": invoice.number if invoice else None,
                            "total": f"{quote.total:.2f}", "idempotency_key": key}, now)
            uow.session.flush()
            result = _order_result(order, replayed=False)
            uow.commit()
        # Rendering and e-mail happen after the commit: nothing after the charge can undo the order.
        document = self._document(invoice) if invoice is not None else None
        return result, document, actor.email

    def _issue_invoice(self, uow: UnitOfWork, account: orm.AccountRow, lines, money: InvoiceTotals, today: dt.date,
                       origin: str, charge_key: str) -> orm.InvoiceRow:
        """The invoice of ``lines``, charged to the card on file.

        The card is charged first (a gateway error leaves nothing behind), then the yearly number is
        taken: the sequence row stays locked only from here to the commit, not during the charge.
        """
        invoice = orm.InvoiceRow(
            account_id=account.id, issued_on=today, due_on=today, status="paid", net=money.net,
            balance_applied=money.balance_applied, taxable=money.taxable, tax_rate=money.tax_rate, tax=money.tax,
            total=money.total, tax_note=money.tax_note, seller=_party_dict(self.catalog.seller),
            customer=_party_dict(customer_party(account)), origin=origin,
        )
        for line in lines:
            invoice.lines.append(orm.InvoiceLineRow(
                kind=line.kind, sku=line.sku, cycle=line.cycle, quantity=line.quantity, unit_price=line.unit_price,
                start=line.start, end=line.end, days=line.days, period_days=line.period_days, amount=line.amount))
        charge = self.gateway.charge(account.card_token, money.total, charge_key) if money.total > 0 else None
        invoice.number = uow.repo.next_invoice_number(today.year)
        uow.repo.add(invoice)
        if charge is not None:
            invoice.status = "paid" if charge.succeeded else "unpaid"
            uow.repo.add(orm.PaymentRow(invoice=invoice, account_id=account.id, amount=money.total,
                                        status="succeeded" if charge.succeeded else "declined",
                                        gateway_reference=charge.reference, created_at=self.now()))
        return invoice

    # --- renewals ----------------------------------------------------------------------------
    def renew_due(self) -> list[dict]:
        """Renew every period that ended by now; each account in its own transaction."""
        today = self.today()
        with self.uow() as uow:
            due = uow.repo.accounts_due_for_renewal(today)
        results = []
        for account_id in due:
            outcome = self._renew_account(account_id, today)
            if outcome is not None:
                results.append(outcome)
        return results

    def _renew_account(self, account_id: str, today: dt.date) -> dict | None:
        with self.uow() as uow:
            account = uow.repo.account(account_id, lock=True)
            state = uow.repo.state(account, self.catalog)
            if self.catalog.plan(state.subscription.plan).sales_only or state.sales_managed_reason:
                return None  # billed by sales under its contract
            lines, new_sub = renew(state.subscription, self.catalog, today)
            if not lines and new_sub == state.subscription:
                return None
            money = invoice_totals(sum((line.amount for line in lines), Decimal("0.00")), state.balance,
                                   tax_profile(state.customer, self.catalog))
            invoice = None
            if lines:
                invoice = self._issue_invoice(uow, account, lines, money, today, "renewal",
                                              f"renewal:{account_id}:{today.isoformat()}")
            account.balance = money.balance_after
            uow.repo.save_subscription(account, new_sub)
            uow.repo.audit(account_id, "system", "renewal", "renewed",
                           {"invoice": invoice.number if invoice else None, "total": f"{money.total:.2f}"},
                           self.now())
            outcome = {"account": account_id, "invoice": invoice.number if invoice else None,
                       "total": f"{money.total:.2f}", "status": invoice.status if invoice else None,
                       "plan": new_sub.plan, "licenses": new_sub.licenses,
                       "period_start": new_sub.period_start.isoformat(), "period_end": new_sub.period_end.isoformat()}
            uow.commit()
            return outcome

    # --- invoices ----------------------------------------------------------------------------
    def invoices(self, account_id: str) -> list[dict]:
        with self.uow(read_only=True) as uow:
            uow.repo.account(account_id)
            return [_invoice_summary(inv) | {"lines": [_line_summary(line) for line in inv.lines]}
                    for inv in uow.repo.invoices(account_id)]

    def invoice_pdf(self, number: str) -> bytes:
        with self.uow(read_only=True) as uow:
            invoice = uow.repo.invoice(number)
            if invoice is None:
                raise InvalidRequest("unknown_invoice", number=number)
            return render_invoice_pdf(self._document(invoice))

    def _document(self, invoice: orm.InvoiceRow) -> InvoiceDocument:
        lines = tuple(
            DocumentLine(line_title(_quote_line(line), self.catalog), line.kind, line.quantity,
                         Decimal(line.unit_price), line.start, line.end, line.days, line.period_days,
                         Decimal(line.amount))
            for line in invoice.lines)
        return InvoiceDocument(
            number=invoice.number, issued_on=invoice.issued_on, due_on=invoice.due_on,
            seller=Party(**invoice.seller), customer=Party(**invoice.customer), lines=lines,
            net=Decimal(invoice.net), balance_applied=Decimal(invoice.balance_applied),
            taxable=Decimal(invoice.taxable), tax_rate=Decimal(invoice.tax_rate), tax=Decimal(invoice.tax),
            total=Decimal(invoice.total),
            tax_note=text(f"tax_note_{invoice.tax_note}") if invoice.tax_note else None, status=invoice.status)

    def _send_confirmation(self, document: InvoiceDocument, recipient: str) -> None:
        try:
            pdf = render_invoice_pdf(document)
            self.mailer.send(build_order_confirmation(document, pdf, recipient,
                                                      self.sender or self.catalog.seller.email or ""))
        except Exception:  # the order stands; a failed e-mail is logged and can be resent
            log.exception("confirmation e-mail for invoice %s not sent", document.number)

    # --- license assignments -----------------------------------------------------------------
    def assign(self, account_id: str, by: str, email: str, product: str = "license", *,
               channel: str = "cli") -> None:
        with self.uow() as uow:
            account = uow.repo.account(account_id, lock=True)
            actor = uow.repo.actor(account_id, by)
            if actor.role not in BILLING_ROLES:
                raise self._with_owner(uow, account_id, Refused("no_billing_role", role=actor.role))
            user = uow.repo.user(email)
            if user is None or user.account_id != account_id:
                raise Refused("user_not_in_account", email=email)
            assignments = [a for a in uow.repo.assignments(account_id) if a.product == product]
            if any(a.user_email == user.email for a in assignments):
                raise Refused("already_assigned", email=user.email, product=product)
            sub = uow.repo.subscription(account)
            if product == "license":
                seats = sub.licenses
            else:
                if product not in self.catalog.addons:
                    raise InvalidRequest("unknown_addon", sku=product, known=", ".join(self.catalog.addons))
                seats = sum(item.quantity for item in sub.addons if item.sku == product)
            if len(assignments) >= seats:
                raise Refused("no_free_license", product=product, total=seats)
            uow.repo.add(orm.LicenseAssignmentRow(account_id=account_id, user_email=user.email, product=product,
                                                  assigned_at=self.now()))
            uow.repo.audit(account_id, actor.email, channel, "license_assigned",
                           {"email": user.email, "product": product}, self.now())
            uow.commit()

    def unassign(self, account_id: str, by: str, email: str, product: str = "license", *,
                 channel: str = "cli") -> None:
        with self.uow() as uow:
            uow.repo.account(account_id, lock=True)
            actor = uow.repo.actor(account_id, by)
            if actor.role not in BILLING_ROLES:
                raise self._with_owner(uow, account_id, Refused("no_billing_role", role=actor.role))
            match = [a for a in uow.repo.assignments(account_id)
                     if a.product == product and a.user_email.lower() == email.strip().lower()]
            if not match:
                raise Refused("not_assigned", email=email, product=product)
            uow.session.delete(match[0])
            uow.repo.audit(account_id, actor.email, channel, "license_unassigned",
                           {"email": email, "product": product}, self.now())
            uow.commit()

    # --- carts -------------------------------------------------------------------------------
    def cart(self, account_id: str, email: str) -> ChangeSet:
        with self.uow(read_only=True) as uow:
            row = uow.repo.cart(account_id, email)
            return ChangeSet.from_dict(row.changes) if row is not None else ChangeSet()

    def save_cart(self, account_id: str, email: str, changes: ChangeSet) -> ChangeSet:
        with self.uow() as uow:
            uow.repo.account(account_id)
            uow.repo.actor(account_id, email)
            row = uow.repo.cart(account_id, email)
            if changes.is_empty():
                if row is not None:
                    uow.session.delete(row)
            elif row is None:
                uow.repo.add(orm.CartRow(account_id=account_id, user_email=email.lower(), changes=changes.to_dict(),
                                         updated_at=self.now()))
            else:
                row.changes, row.updated_at = changes.to_dict(), self.now()
            uow.commit()
        return changes

    def add_to_cart(self, account_id: str, email: str, change: ChangeSet) -> ChangeSet:
        return self.save_cart(account_id, email, self.cart(account_id, email).merged_with(change))

    # --- handoff to the account executive ----------------------------------------------------
    def request_handoff(self, account_id: str, email: str, reason: str, request_text: str,
                        last_messages: list[str], *, channel: str = "chat") -> HandoffResult:
        with self.uow() as uow:
            account = uow.repo.account(account_id, lock=True)
            state = uow.repo.state(account, self.catalog)
            ae = state.account_executive
            existing = uow.repo.open_handoff(account_id, email)
            if existing is not None:
                return HandoffResult(existing.id, False, ae.name, ae.email, ae.callback_hours)
            summary = {"account": account_id, "account_name": account.name, "plan": state.subscription.plan,
                       "licenses": state.subscription.licenses, "requested_by": email, "reason": reason,
                       "request_text": request_text, "last_messages": list(last_messages)[-10:]}
            row = orm.HandoffRow(account_id=account_id, requested_by=email, reason=reason,
                                 request_text=request_text, summary=summary, status="open", created_at=self.now())
            uow.repo.add(row)
            uow.repo.audit(account_id, email, channel, "handoff_requested", {"reason": reason}, self.now())
            uow.session.flush()
            handoff = HandoffSummary(row.id, account_id, account.name, state.subscription.plan,
                                     state.subscription.licenses, email, reason, request_text,
                                     tuple(summary["last_messages"]), ae.name, ae.email)
            uow.commit()
        try:
            self.notifier.notify_handoff(handoff)
        except Exception:  # stored: the sales team also sees open handoffs in the database
            log.exception("handoff %s stored but the notification failed", handoff.handoff_id)
        return HandoffResult(handoff.handoff_id, True, ae.name, ae.email, ae.callback_hours)


def _check_email(email: str) -> None:
    if not EMAIL.match(email.strip()):
        raise InvalidRequest("invalid_email", email=email)


def _party_dict(party: Party) -> dict:
    return {"name": party.name, "address": party.address, "country": party.country, "vat_id": party.vat_id,
            "fiscal_code": party.fiscal_code, "email": party.email}


def _addon_dict(item: AddonItem) -> dict:
    return {"sku": item.sku, "quantity": item.quantity, "cycle": item.cycle,
            "period_start": item.period_start.isoformat(), "period_end": item.period_end.isoformat(),
            "pending_removal": item.pending_removal, "pending_sku": item.pending_sku}


def _invoice_summary(invoice: orm.InvoiceRow) -> dict:
    return {"number": invoice.number, "issued_on": invoice.issued_on.isoformat(),
            "due_date": invoice.due_on.isoformat(), "status": invoice.status,
            "taxable": f"{Decimal(invoice.taxable):.2f}", "tax": f"{Decimal(invoice.tax):.2f}",
            "total": f"{Decimal(invoice.total):.2f}", "origin": invoice.origin}


def _quote_line(line: orm.InvoiceLineRow) -> QuoteLine:
    return QuoteLine(line.kind, line.sku, line.quantity, Decimal(line.unit_price), line.start, line.end,
                     line.days, line.period_days, Decimal(line.amount), line.cycle)


def _line_summary(line: orm.InvoiceLineRow) -> dict:
    return line_dict(_quote_line(line))


def _order_result(order: orm.OrderRow, *, replayed: bool) -> OrderResult:
    invoice = order.invoice
    return OrderResult(order_id=order.id, replayed=replayed, quote=order.quote,
                       invoice_number=invoice.number if invoice else None,
                       invoice_status=invoice.status if invoice else None,
                       charged=Decimal(invoice.total) if invoice is not None and invoice.status == "paid"
                       else Decimal("0.00"),
                       placed_by=order.placed_by)
