"""Database tables (SQLAlchemy 1.4 declarative, used in 2.0 style). Alembic migrations mirror them."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

Base = declarative_base()


class ExactDecimal(TypeDecorator):
    """NUMERIC on PostgreSQL; text on SQLite, whose NUMERIC would round-trip through a float."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 12, scale: int = 2) -> None:
        super().__init__(precision=precision, scale=scale)
        self.scale = scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(self.impl.precision, self.scale))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal(1).scaleb(-self.scale))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


Money = ExactDecimal(12, 2)


class AccountRow(Base):
    __tablename__ = "accounts"
    id = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    address = Column(Text, nullable=False, default="")
    country = Column(String(2), nullable=False, default="IT")
    vat_id = Column(String(32))
    fiscal_code = Column(String(32))
    timezone = Column(String(64), nullable=False, default="Europe/Rome")
    balance = Column(Money, nullable=False, default=0)
    sales_managed_reason = Column(String(32))
    account_executive_name = Column(String(200))
    account_executive_email = Column(String(200))
    card_token = Column(String(64), nullable=False, default="tok_ok")
    card_last4 = Column(String(4), nullable=False, default="4242")
    version = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime(timezone=True), nullable=False)

    subscription = relationship("SubscriptionRow", uselist=False, back_populates="account")
    users = relationship("UserRow", back_populates="account", order_by="UserRow.id")


class UserRow(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False, index=True)
    email = Column(String(254), nullable=False, unique=True)
    name = Column(String(200), nullable=False, default="")
    role = Column(String(20), nullable=False)
    slack_user_id = Column(String(64), unique=True)
    account = relationship("AccountRow", back_populates="users")


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    account_id = Column(String(64), ForeignKey("accounts.id"), primary_key=True)
    plan = Column(String(32), nullable=False)
    cycle = Column(String(16), nullable=False)
    licenses = Column(Integer, nullable=False)
    period_start = Column(Date, nullable=False)
    period_end = Column(Date, nullable=False)
    pending_plan = Column(String(32))
    pending_licenses = Column(Integer)
    account = relationship("AccountRow", back_populates="subscription")


class AddonItemRow(Base):
    __tablename__ = "addon_items"
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False, index=True)
    sku = Column(String(64), nullable=False)
    quantity = Column(Integer, nullable=False)
    cycle = Column(String(16), nullable=False)
    period_start = Column(Date, nullable=False)
    period_end = Column(Date, nullable=False)
    pending_removal = Column(Boolean, nullable=False, default=False)
    pending_sku = Column(String(64))


class LicenseAssignmentRow(Base):
    __tablename__ = "license_assignments"
    __table_args__ = (UniqueConstraint("account_id", "user_email", "product"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False, index=True)
    user_email = Column(String(254), nullable=False)
    product = Column(String(64), nullable=False)  # "license" or an add-on sku
    assigned_at = Column(DateTime(timezone=True), nullable=False)


class CartRow(Base):
    __tablename__ = "carts"
    __table_args__ = (UniqueConstraint("account_id", "user_email"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False)
    user_email = Column(String(254), nullable=False)
    changes = Column(JSON, nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("account_id", "idempotency_key"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False, index=True)
    idempotency_key = Column(String(200), nullable=False)
    request_fingerprint = Column(String(64), nullable=False)
    placed_by = Column(String(254), nullable=False)
    channel = Column(String(32), nullable=False)
    placed_at = Column(DateTime(timezone=True), nullable=False)
    changes = Column(JSON, nullable=False)
    quote = Column(JSON, nullable=False)
    invoice_id = Column(Integer, ForeignKey("invoices.id"))
    invoice = relationship("InvoiceRow")


class InvoiceSequenceRow(Base):
    __tablename__ = "invoice_sequences"
    year = Column(Integer, primary_key=True)
    last_number = Column(Integer, nullable=False)


class InvoiceRow(Base):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True, autoincrement=True)
    number = Column(String(16), nullable=False, unique=True)
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False, index=True)
    issued_on = Column(Date, nullable=False)
    due_on = Column(Date, nullable=False)
    status = Column(String(16), nullable=False)  # paid | unpaid
    net = Column(Money, nullable=False)
    balance_applied = Column(Money, nullable=False)
    taxable = Column(Money, nullable=False)
    tax_rate = Column(ExactDecimal(5, 4), nullable=False)
    tax = Column(Money, nullable=False)
    total = Column(Money, nullable=False)
    tax_note = Column(String(32))
    seller = Column(JSON, nullable=False)
    customer = Column(JSON, nullable=False)
    origin = Column(String(16), nullable=False)  # order | renewal
    lines = relationship("InvoiceLineRow", order_by="InvoiceLineRow.id", back_populates="invoice")


class InvoiceLineRow(Base):
    __tablename__ = "invoice_lines"
    id = Column(Integer, primary_key=True, autoincrement=True)
    invoice_id = Column(Integer, ForeignKey("invoices.id"), nullable=False, index=True)
    kind = Column(String(8), nullable=False)
    sku = Column(String(64), nullable=False)
    cycle = Column(String(16), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price = Column(Money, nullable=False)
    start = Column(Date, nullable=False)
    end = Column(Date, nullable=False)
    days = Column(Integer, nullable=False)
    period_days = Column(Integer, nullable=False)
    amount = Column(Money, nullable=False)
    invoice = relationship("InvoiceRow", back_populates="lines")


class PaymentRow(Base):
    __tablename__ = "payments"
    id = Column(Integer, primary_key=True, autoincrement=True)
    invoice_id = Column(Integer, ForeignKey("invoices.id"), nullable=False, index=True)
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False, index=True)
    amount = Column(Money, nullable=False)
    status = Column(String(16), nullable=False)  # succeeded | declined
    gateway_reference = Column(String(100), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    invoice = relationship("InvoiceRow")


class HandoffRow(Base):
    __tablename__ = "handoffs"
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False, index=True)
    requested_by = Column(String(254), nullable=False)
    reason = Column(String(32), nullable=False)
    request_text = Column(Text, nullable=False, default="")
    summary = Column(JSON, nullable=False)
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(DateTime(timezone=True), nullable=False)


class AuditRow(Base):
    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_id = Column(String(64), index=True)
    actor = Column(String(254), nullable=False)
    channel = Column(String(32), nullable=False)
    action = Column(String(64), nullable=False)
    details = Column(JSON, nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)
