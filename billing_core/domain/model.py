"""Domain objects: immutable snapshots of an account and the result of pricing a change."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from billing_core.domain.catalog import AccountExecutive, Party

ROLES = ("owner", "billing_admin", "member")
BILLING_ROLES = ("owner", "billing_admin")
ONE_MONTH = "one_month"


class Refused(Exception):
    """A billing rule refuses the change; ``code`` is one of the public refusal codes."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class InvalidRequest(ValueError):
    """The request itself is malformed (unknown sku, account, role...): a usage error."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class AddonItem:
    sku: str
    quantity: int
    cycle: str  # monthly | annual | one_month
    period_start: dt.date
    period_end: dt.date  # exclusive: renewal (or expiry) date
    pending_removal: bool = False
    pending_sku: str | None = None
    id: int | None = None

    @property
    def recurring(self) -> bool:
        return self.cycle != ONE_MONTH

    @property
    def has_pending_change(self) -> bool:
        return self.pending_removal or self.pending_sku is not None


@dataclass(frozen=True)
class Subscription:
    plan: str
    cycle: str
    licenses: int
    period_start: dt.date
    period_end: dt.date
    pending_plan: str | None = None
    pending_licenses: int | None = None
    addons: tuple[AddonItem, ...] = ()

    @property
    def has_pending_change(self) -> bool:
        return (
            self.pending_plan is not None
            or self.pending_licenses is not None
            or any(item.has_pending_change for item in self.addons)
        )

    def recurring_addons(self) -> tuple[AddonItem, ...]:
        return tuple(item for item in self.addons if item.recurring)


@dataclass(frozen=True)
class UnpaidInvoice:
    number: str
    total: Decimal
    due_on: dt.date


@dataclass(frozen=True)
class AccountState:
    account_id: str
    name: str
    subscription: Subscription
    balance: Decimal
    customer: Party
    account_executive: AccountExecutive
    sales_managed_reason: str | None = None  # contract | custom_pricing | sales_quote | enterprise
    unpaid_invoices: tuple[UnpaidInvoice, ...] = ()
    license_holders: tuple[str, ...] = ()  # e-mails of the users holding a plan license


@dataclass(frozen=True)
class Actor:
    email: str
    role: str


@dataclass(frozen=True)
class AddonPurchase:
    sku: str
    cycle: str | None = None  # None: the plan's cycle
    quantity: int = 1


@dataclass(frozen=True)
class ChangeSet:
    """What the user asks for; ``licenses`` is always the new TOTAL, as typed (validated later)."""

    plan: str | None = None
    licenses: object = None
    cycle: str | None = None
    add_addons: tuple[AddonPurchase, ...] = ()
    addon_capacity: tuple[tuple[str, str], ...] = ()
    remove_addons: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.plan or self.licenses is not None or self.cycle or self.add_addons
                    or self.addon_capacity or self.remove_addons)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["licenses"] = None if self.licenses is None else str(self.licenses)
        data["add_addons"] = [asdict(purchase) for purchase in self.add_addons]
        data["addon_capacity"] = [list(pair) for pair in self.addon_capacity]
        data["remove_addons"] = list(self.remove_addons)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ChangeSet":
        return cls(
            plan=data.get("plan"),
            licenses=data.get("licenses"),
            cycle=data.get("cycle"),
            add_addons=tuple(AddonPurchase(**purchase) for purchase in data.get("add_addons", ())),
            addon_capacity=tuple(tuple(pair) for pair in data.get("addon_capacity", ())),  # type: ignore[misc]
            remove_addons=tuple(data.get("remove_addons", ())),
        )

    def merged_with(self, other: "ChangeSet") -> "ChangeSet":
        """A cart line replaces the same kind of line (one license total, one plan, one cycle)."""
        purchases = {p.sku: p for p in self.add_addons}
        purchases.update({p.sku: p for p in other.add_addons})
        capacity = dict(self.addon_capacity)
        capacity.update(dict(other.addon_capacity))
        removals = tuple(dict.fromkeys(self.remove_addons + other.remove_addons))
        return ChangeSet(
            plan=other.plan or self.plan,
            licenses=other.licenses if other.licenses is not None else self.licenses,
            cycle=other.cycle or self.cycle,
            add_addons=tuple(purchases.values()),
            addon_capacity=tuple(capacity.items()),
            remove_addons=removals,
        )

    def without(self, line: str) -> "ChangeSet":
        """The cart minus one line: 'plan', 'licenses', 'cycle' or an add-on sku."""
        return ChangeSet(
            plan=None if line == "plan" else self.plan,
            licenses=None if line == "licenses" else self.licenses,
            cycle=None if line == "cycle" else self.cycle,
            add_addons=tuple(p for p in self.add_addons if p.sku != line),
            addon_capacity=tuple(pair for pair in self.addon_capacity if line not in pair),
            remove_addons=tuple(sku for sku in self.remove_addons if sku != line),
        )


@dataclass(frozen=True)
class QuoteLine:
    kind: str  # charge | credit
    sku: str
    quantity: int
    unit_price: Decimal
    start: dt.date
    end: dt.date
    days: int
    period_days: int
    amount: Decimal  # negative for credits
    cycle: str


@dataclass(frozen=True)
class ScheduledChange:
    """A change that takes effect at a period end (no money now)."""

    kind: str  # plan | licenses | addon_removal | addon_capacity
    old: str
    new: str
    effective_on: dt.date


@dataclass(frozen=True)
class Renewal:
    date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class TaxProfile:
    rate: Decimal
    note: str | None  # reverse_charge | outside_eu | None


@dataclass(frozen=True)
class InvoiceTotals:
    """The money of one invoice: lines' net, the credit balance used first, IVA, total."""

    net: Decimal
    balance_applied: Decimal
    taxable: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal
    balance_after: Decimal
    tax_note: str | None  # reverse_charge | outside_eu | None


@dataclass(frozen=True)
class Quote(InvoiceTotals):
    change_day: dt.date
    lines: tuple[QuoteLine, ...]
    scheduled: tuple[ScheduledChange, ...]
    effective: str  # immediate | period_end
    next_renewal: Renewal
    old_subscription: Subscription
    new_subscription: Subscription = field(repr=False)
