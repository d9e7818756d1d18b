"""Repository: loads account snapshots for the domain and writes the domain's results back."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing_core.adapters import orm
from billing_core.domain.catalog import AccountExecutive, Catalog, Party
from billing_core.domain.model import AccountState, Actor, AddonItem, InvalidRequest, Subscription, UnpaidInvoice


class BillingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- accounts and users ---------------------------------------------------------------
    def account(self, account_id: str, *, lock: bool = False) -> orm.AccountRow:
        """The account row; ``lock`` holds it (SELECT ... FOR UPDATE) until commit, so two
        concurrent changes to one account queue instead of overwriting each other."""
        query = select(orm.AccountRow).where(orm.AccountRow.id == account_id)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).scalar_one_or_none()
        if row is None:
            raise InvalidRequest("unknown_account", account=account_id)
        return row

    def account_exists(self, account_id: str) -> bool:
        return self.session.get(orm.AccountRow, account_id) is not None

    def account_ids(self) -> list[str]:
        return list(self.session.execute(select(orm.AccountRow.id).order_by(orm.AccountRow.id)).scalars())

    def user(self, email: str) -> orm.UserRow | None:
        return self.session.execute(
            select(orm.UserRow).where(func.lower(orm.UserRow.email) == email.strip().lower())
        ).scalar_one_or_none()

    def user_by_slack_id(self, slack_user_id: str) -> orm.UserRow | None:
        return self.session.execute(
            select(orm.UserRow).where(orm.UserRow.slack_user_id == slack_user_id)
        ).scalar_one_or_none()

    def actor(self, account_id: str, email: str) -> Actor:
        user = self.user(email)
        if user is None or user.account_id != account_id:
            raise InvalidRequest("unknown_user", email=email, account=account_id)
        return Actor(user.email, user.role)

    def users(self, account_id: str) -> list[orm.UserRow]:
        return list(self.session.execute(
            select(orm.UserRow).where(orm.UserRow.account_id == account_id).order_by(orm.UserRow.id)
        ).scalars())

    # --- snapshots ------------------------------------------------------------------------
    def addon_rows(self, account_id: str) -> list[orm.AddonItemRow]:
        return list(self.session.execute(
            select(orm.AddonItemRow).where(orm.AddonItemRow.account_id == account_id).order_by(orm.AddonItemRow.id)
        ).scalars())

    def subscription(self, account: orm.AccountRow) -> Subscription:
        row = account.subscription
        addons = tuple(
            AddonItem(a.sku, a.quantity, a.cycle, a.period_start, a.period_end, a.pending_removal, a.pending_sku, a.id)
            for a in self.addon_rows(account.id)
        )
        return Subscription(row.plan, row.cycle, row.licenses, row.period_start, row.period_end,
                            row.pending_plan, row.pending_licenses, addons)

    def state(self, account: orm.AccountRow, catalog: Catalog) -> AccountState:
        ae = catalog.default_account_executive
        return AccountState(
            account_id=account.id,
            name=account.name,
            subscription=self.subscription(account),
            balance=Decimal(account.balance),
            customer=customer_party(account),
            account_executive=AccountExecutive(
                account.account_executive_name or ae.name, account.account_executive_email or ae.email,
                ae.callback_hours),
            sales_managed_reason=account.sales_managed_reason,
            unpaid_invoices=tuple(
                UnpaidInvoice(inv.number, Decimal(inv.total), inv.due_on) for inv in self.unpaid_invoices(account.id)
            ),
            license_holders=tuple(a.user_email for a in self.assignments(account.id) if a.product == "license"),
        )

    def save_subscription(self, account: orm.AccountRow, sub: Subscription) -> None:
        row = account.subscription
        row.plan, row.cycle, row.licenses = sub.plan, sub.cycle, sub.licenses
        row.period_start, row.period_end = sub.period_start, sub.period_end
        row.pending_plan, row.pending_licenses = sub.pending_plan, sub.pending_licenses
        existing = {a.id: a for a in self.addon_rows(account.id)}
        for item in sub.addons:
            target = existing.pop(item.id, None) if item.id is not None else None
            if target is None:
                target = orm.AddonItemRow(account_id=account.id)
                self.session.add(target)
            target.sku, target.quantity, target.cycle = item.sku, item.quantity, item.cycle
            target.period_start, target.period_end = item.period_start, item.period_end
            target.pending_removal, target.pending_sku = item.pending_removal, item.pending_sku
        for gone in existing.values():
            self.session.delete(gone)
        # Add-ons that are gone lose their assignments too.
        kept = {item.sku for item in sub.addons}
        for assignment in self.assignments(account.id):
            if assignment.product != "license" and assignment.product not in kept:
                self.session.delete(assignment)
        account.version += 1

    def accounts_due_for_renewal(self, today: dt.date) -> list[str]:
        plans = select(orm.SubscriptionRow.account_id).where(orm.SubscriptionRow.period_end <= today)
        addons = select(orm.AddonItemRow.account_id).where(orm.AddonItemRow.period_end <= today)
        return sorted(set(self.session.execute(plans).scalars()) | set(self.session.execute(addons).scalars()))

    # --- licenses -------------------------------------------------------------------------
    def assignments(self, account_id: str) -> list[orm.LicenseAssignmentRow]:
        return list(self.session.execute(
            select(orm.LicenseAssignmentRow).where(orm.LicenseAssignmentRow.account_id == account_id)
            .order_by(orm.LicenseAssignmentRow.id)
        ).scalars())

    # --- orders, invoices -----------------------------------------------------------------
    def order_by_key(self, account_id: str, key: str) -> orm.OrderRow | None:
        return self.session.execute(
            select(orm.OrderRow).where(orm.OrderRow.account_id == account_id, orm.OrderRow.idempotency_key == key)
        ).scalar_one_or_none()

    def invoices(self, account_id: str) -> list[orm.InvoiceRow]:
        return list(self.session.execute(
            select(orm.InvoiceRow).where(orm.InvoiceRow.account_id == account_id).order_by(orm.InvoiceRow.id)
        ).scalars())

    def unpaid_invoices(self, account_id: str) -> list[orm.InvoiceRow]:
        return list(self.session.execute(
            select(orm.InvoiceRow).where(orm.InvoiceRow.account_id == account_id, orm.InvoiceRow.status == "unpaid")
            .order_by(orm.InvoiceRow.id)
        ).scalars())

    def invoice(self, number: str) -> orm.InvoiceRow | None:
        return self.session.execute(
            select(orm.InvoiceRow).where(orm.InvoiceRow.number == number)
        ).scalar_one_or_none()

    def next_invoice_number(self, year: int) -> str:
        """Yearly progressive number; the sequence row is locked so concurrent orders never share one."""
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.session.execute(
            insert(orm.InvoiceSequenceRow).values(year=year, last_number=0).on_conflict_do_nothing()
        )
        sequence = self.session.execute(
            select(orm.InvoiceSequenceRow).where(orm.InvoiceSequenceRow.year == year).with_for_update()
        ).scalar_one()
        sequence.last_number += 1
        return f"{year}/{sequence.last_number:06d}"

    def open_handoff(self, account_id: str, email: str) -> orm.HandoffRow | None:
        return self.session.execute(
            select(orm.HandoffRow).where(orm.HandoffRow.account_id == account_id,
                                         func.lower(orm.HandoffRow.requested_by) == email.lower(),
                                         orm.HandoffRow.status == "open")
        ).scalars().first()

    def cart(self, account_id: str, email: str) -> orm.CartRow | None:
        return self.session.execute(
            select(orm.CartRow).where(orm.CartRow.account_id == account_id,
                                      func.lower(orm.CartRow.user_email) == email.lower())
        ).scalar_one_or_none()

    def add(self, row: object) -> None:
        self.session.add(row)

    def audit(self, account_id: str | None, actor: str, channel: str, action: str, details: dict,
              at: dt.datetime) -> None:
        self.session.add(orm.AuditRow(account_id=account_id, actor=actor, channel=channel, action=action,
                                      details=details, at=at))


def customer_party(account: orm.AccountRow) -> Party:
    owner = next((u.email for u in account.users if u.role == "owner"), None)
    return Party(account.name, account.address or "", account.country, account.vat_id, account.fiscal_code, owner)
