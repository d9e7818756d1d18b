"""Real concurrency: separate OS processes (multiprocessing "spawn") place orders on one account at once.

Each child builds its own service with ``bootstrap(url, ...)`` (own engine, own connections) and a
fixed clock (26 Nov 2026); a Barrier releases them together. Run on SQLite (BEGIN IMMEDIATE) and on
PostgreSQL (SELECT ... FOR UPDATE on the account row) through the ``database_url`` fixture.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
import queue as queue_module
import traceback
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing_core.adapters import orm
from billing_core.domain.model import AddonPurchase, ChangeSet, Refused

ACCOUNT = "acme"
OWNER = "owner@acme.example"
ADMIN = "admin@acme.example"
PERIOD_START = dt.date(2026, 11, 1)
ADD_ONE_LARGE_MEETING = ChangeSet(add_addons=(AddonPurchase("large_meeting_500"),))
MAX_CLIENTS = 4
CHILD_TIMEOUT = 90  # seconds: far above the expected run time; hitting it means a deadlock


# --- child side (must stay importable at module level for "spawn") ---------------------------------

def _child_service(url: str):
    from billing_core.adapters.mailer import RecordingMailer
    from billing_core.adapters.notifier import RecordingNotifier
    from billing_core.adapters.payment import SimulatedCardGateway
    from billing_core.clock import ROME
    from billing_core.domain.catalog import load_catalog
    from billing_core.service.bootstrap import bootstrap

    service = bootstrap(url, catalog=load_catalog(), gateway=SimulatedCardGateway(), mailer=RecordingMailer(),
                        notifier=RecordingNotifier())
    fixed = dt.datetime(2026, 11, 26, 10, 0, tzinfo=ROME)
    service.now = lambda: fixed
    return service


def _run_steps(url: str, barrier, name: str, steps: list[dict], stub_pdf: bool) -> dict:
    """Place ``steps`` (each: changes, by, key, confirm_quote) after the barrier; returns a report."""
    from billing_core.service import bootstrap as bootstrap_module
    from billing_core.service import services
    from billing_core.service.views import quote_fingerprint

    real_render = services.render_invoice_pdf
    if stub_pdf:  # ~240 ms of fpdf per order, after the commit: not what these tests are about
        services.render_invoice_pdf = lambda document: b"%PDF-1.4 stub"
    out: dict = {"name": name, "orders": [], "refusals": [], "mails": 0, "crash": None}
    service = None
    try:
        service = _child_service(url)
        prepared = []
        for step in steps:
            expected = None
            if step.get("confirm_quote"):  # the chat flow: show a quote, the user confirms exactly that
                expected = quote_fingerprint(service.quote(ACCOUNT, step["changes"], step["by"]))
            prepared.append((step, expected))
        service.account_summary(ACCOUNT)  # warm up: connection open, mappers configured
        barrier.wait(timeout=CHILD_TIMEOUT)
        for step, expected in prepared:
            try:
                result = service.place_order(ACCOUNT, step["changes"], by=step["by"], idempotency_key=step["key"],
                                             channel="test", expected_quote=expected)
            except Refused as refusal:
                out["refusals"].append({"key": step["key"], "code": refusal.code})
                continue
            out["orders"].append({"key": step["key"], "order_id": result.order_id, "replayed": result.replayed,
                                  "invoice": result.invoice_number, "status": result.invoice_status,
                                  "charged": str(result.charged)})
        out["mails"] = len(service.mailer.sent)
    except BaseException:  # reported to the parent, which fails the test with the traceback
        out["crash"] = traceback.format_exc()
    finally:
        services.render_invoice_pdf = real_render
        if service is not None:  # this test's database is dropped/removed later: let go of it
            service.session_factory.kw["bind"].dispose()
            bootstrap_module._session_factory.cache_clear()
    return out


def _client_loop(index: int, barriers: dict, tasks, results) -> None:
    """A client process, kept for the whole module (spawning one costs ~1 s of imports)."""
    import billing_core.service.services  # noqa: F401  (imports paid before the first test)

    while True:
        task = tasks.get()
        if task is None:
            return
        url, steps, stub_pdf, size = task
        results.put(_run_steps(url, barriers[size], f"p{index}", steps, stub_pdf))


# --- parent side -------------------------------------------------------------------------------------

class Clients:
    """MAX_CLIENTS spawned processes; a test gives each of the first N a plan and releases them together
    with a reusable Barrier of size N (Barriers can only be handed to a process when it starts)."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barriers = {size: ctx.Barrier(size) for size in range(1, MAX_CLIENTS + 1)}
        self.results = ctx.Queue()
        self.tasks = [ctx.Queue() for _ in range(MAX_CLIENTS)]
        self.processes = [ctx.Process(target=_client_loop, args=(i, self.barriers, self.tasks[i], self.results),
                                      daemon=True) for i in range(MAX_CLIENTS)]
        for process in self.processes:
            process.start()
        self.broken = False

    def run(self, url: str, plans: list[list[dict]], stub_pdf: bool) -> list[dict]:
        assert not self.broken, "an earlier test left the client processes stuck"
        for i, plan in enumerate(plans):
            self.tasks[i].put((url, plan, stub_pdf, len(plans)))
        reports = []
        try:
            for _ in plans:
                reports.append(self.results.get(timeout=CHILD_TIMEOUT))
        except queue_module.Empty:
            self.broken = True
            pytest.fail(f"only {len(reports)} of {len(plans)} processes finished in {CHILD_TIMEOUT}s: "
                        "deadlock or lock wait that never ends")
        crashes = [report["crash"] for report in reports if report["crash"]]
        assert not crashes, "a child process crashed:\n" + "\n".join(crashes)
        return sorted(reports, key=lambda report: report["name"])

    def close(self) -> None:
        for i, process in enumerate(self.processes):
            if not self.broken:
                self.tasks[i].put(None)
        for process in self.processes:
            process.join(timeout=0 if self.broken else 10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


@pytest.fixture(scope="module")
def clients():
    pool = Clients()
    yield pool
    pool.close()


@pytest.fixture
def run_children(clients):
    """``run_children(url, plans, stub_pdf=False)``: plan i runs in process i, all released at once."""
    def run(url: str, plans: list[list[dict]], *, stub_pdf: bool = False) -> list[dict]:
        return clients.run(url, plans, stub_pdf)
    return run


@pytest.fixture
def account(service):
    service.create_account(ACCOUNT, name="ACME S.r.l.", plan="business", cycle="monthly", licenses=10,
                           period_start=PERIOD_START, owner=OWNER, vat_id="IT12345678901")
    service.add_user(ACCOUNT, ADMIN, "billing_admin")
    return ACCOUNT


def count(service, row) -> int:
    with service.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(row)).scalar_one()


def money_rows(service) -> tuple[list[dict], list[dict]]:
    """Invoices (with their lines) and payments as plain dicts, read in one transaction."""
    with service.uow() as uow:
        invoices = [{"id": i.id, "number": i.number, "status": i.status, "total": Decimal(i.total),
                     "lines": [{"kind": line.kind, "sku": line.sku, "quantity": line.quantity} for line in i.lines]}
                    for i in uow.session.execute(select(orm.InvoiceRow).order_by(orm.InvoiceRow.id)).scalars()]
        payments = [{"invoice_id": p.invoice_id, "status": p.status, "amount": Decimal(p.amount)}
                    for p in uow.session.execute(select(orm.PaymentRow).order_by(orm.PaymentRow.id)).scalars()]
    return invoices, payments


def assert_money_consistent(invoices, payments) -> None:
    """Every invoice paid exactly once, and what was invoiced is what was charged."""
    assert all(invoice["status"] == "paid" for invoice in invoices)
    assert all(payment["status"] == "succeeded" for payment in payments)
    paid = [p["invoice_id"] for p in payments]
    assert sorted(paid) == sorted(i["id"] for i in invoices if i["total"] > 0), "an invoice paid twice or never"
    assert sum((i["total"] for i in invoices), Decimal("0")) == sum((p["amount"] for p in payments), Decimal("0"))


# --- tests ---------------------------------------------------------------------------------------------

def test_concurrent_orders_lose_no_update_and_number_invoices_contiguously(
        service, account, database_url, run_children):
    """4 processes x 5 orders, each adding one Large Meeting 500: 20 add-ons, 20 orders, 20 invoices."""
    per_order = service.quote(account, ADD_ONE_LARGE_MEETING, OWNER)
    plans = [[{"changes": ADD_ONE_LARGE_MEETING, "by": OWNER if p % 2 == 0 else ADMIN, "key": f"p{p}-o{o}"}
              for o in range(5)] for p in range(4)]

    reports = run_children(database_url, plans, stub_pdf=True)

    assert [r["refusals"] for r in reports] == [[]] * 4
    orders = [order for report in reports for order in report["orders"]]
    assert len(orders) == 20 and not any(order["replayed"] for order in orders)
    assert len({order["order_id"] for order in orders}) == 20
    assert sum(report["mails"] for report in reports) == 20  # one confirmation per order, none twice

    summary = service.account_summary(account)
    large = [item for item in summary["addons"] if item["sku"] == "large_meeting_500"]
    assert [item["quantity"] for item in large] == [20], summary["addons"]
    assert summary["licenses"] == 10 and summary["pending_licenses"] is None
    assert count(service, orm.OrderRow) == 20

    invoices, payments = money_rows(service)
    assert sorted(invoice["number"] for invoice in invoices) == [f"2026/{n:06d}" for n in range(1, 21)]
    assert sorted(order["invoice"] for order in orders) == [f"2026/{n:06d}" for n in range(1, 21)]
    assert len(payments) == 20
    assert_money_consistent(invoices, payments)
    # Same day, same co-termed period: every order was priced exactly like the quote.
    assert {invoice["total"] for invoice in invoices} == {per_order.total}
    assert {order["charged"] for order in orders} == {f"{per_order.total:.2f}"}
    with service.uow() as uow:
        assert uow.repo.account(account).version == 20  # one subscription write per order
        sequence = uow.session.get(orm.InvoiceSequenceRow, 2026)
        assert sequence.last_number == 20


def test_same_idempotency_key_at_the_same_moment_places_one_order(
        service, account, database_url, run_children):
    """A channel's retries / a double click from 4 processes at once: one order, one invoice, one charge."""
    step = {"changes": ADD_ONE_LARGE_MEETING, "by": OWNER, "key": "confirm-42"}

    reports = run_children(database_url, [[step]] * 4)

    orders = [order for report in reports for order in report["orders"]]
    assert len(orders) == 4 and [r["refusals"] for r in reports] == [[]] * 4
    assert len({order["order_id"] for order in orders}) == 1, orders
    assert len({order["invoice"] for order in orders}) == 1
    assert sorted(order["replayed"] for order in orders) == [False, True, True, True]
    assert sum(report["mails"] for report in reports) == 1  # only the process that placed it e-mails

    assert count(service, orm.OrderRow) == 1
    invoices, payments = money_rows(service)
    assert [invoice["number"] for invoice in invoices] == ["2026/000001"]
    assert len(payments) == 1
    assert_money_consistent(invoices, payments)
    summary = service.account_summary(account)
    assert [(a["sku"], a["quantity"]) for a in summary["addons"]] == [("large_meeting_500", 1)]


def licenses_billed(invoices) -> int:
    """10 at the start plus every plan license charged since (proration lines of the plan sku)."""
    return 10 + sum(line["quantity"] for invoice in invoices for line in invoice["lines"]
                    if line["sku"] == "business" and line["kind"] == "charge")


def test_two_admins_raising_the_license_total_blindly_both_succeed_without_losing_one(
        service, account, database_url, run_children):
    """Owner to 12, billing admin to 15, no quote check: serialized, never 'last write wins'.

    ``licenses`` is a TOTAL, so the order depends on who takes the lock first:
    12 then 15 -> two invoices (2 + 3 licenses), 15 held; 15 then 12 -> one invoice (5 licenses),
    15 held and a reduction to 12 scheduled for the period end (no refund). Either way every held
    license was billed and none was billed twice.
    """
    plans = [[{"changes": ChangeSet(licenses=12), "by": OWNER, "key": "owner-12"}],
             [{"changes": ChangeSet(licenses=15), "by": ADMIN, "key": "admin-15"}]]

    reports = run_children(database_url, plans)

    assert [r["refusals"] for r in reports] == [[], []]
    assert count(service, orm.OrderRow) == 2
    summary = service.account_summary(account)
    invoices, payments = money_rows(service)
    assert_money_consistent(invoices, payments)
    assert summary["licenses"] == 15  # the bigger total is never lost
    assert licenses_billed(invoices) == summary["licenses"]
    if summary["pending_licenses"] is None:  # owner first: 10 -> 12 -> 15
        assert sorted(line["quantity"] for invoice in invoices for line in invoice["lines"]) == [2, 3]
    else:  # admin first: 10 -> 15, then "12" is a reduction at period end
        assert summary["pending_licenses"] == 12
        assert [line["quantity"] for invoice in invoices for line in invoice["lines"]] == [5]
    assert [invoice["number"] for invoice in invoices] == [f"2026/{n:06d}" for n in range(1, len(invoices) + 1)]


def test_two_admins_confirming_their_quotes_concurrently_one_is_refused(
        service, account, database_url, run_children):
    """Both quoted on the same state and confirm that quote: the second finds the account changed
    and is refused with ``quote_changed`` instead of being charged something it never saw."""
    plans = [[{"changes": ChangeSet(licenses=12), "by": OWNER, "key": "owner-12", "confirm_quote": True}],
             [{"changes": ChangeSet(licenses=15), "by": ADMIN, "key": "admin-15", "confirm_quote": True}]]

    reports = run_children(database_url, plans)

    orders = [order for report in reports for order in report["orders"]]
    refusals = [refusal for report in reports for refusal in report["refusals"]]
    assert len(orders) == 1 and [refusal["code"] for refusal in refusals] == ["quote_changed"]
    winner = 12 if orders[0]["key"] == "owner-12" else 15
    assert count(service, orm.OrderRow) == 1
    summary = service.account_summary(account)
    assert summary["licenses"] == winner and summary["pending_licenses"] is None
    invoices, payments = money_rows(service)
    assert [invoice["number"] for invoice in invoices] == ["2026/000001"]
    assert_money_consistent(invoices, payments)
    assert licenses_billed(invoices) == summary["licenses"]
