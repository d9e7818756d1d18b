"""The `billing` command as operators and external tests use it: JSON, exit codes, bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from billing_core.entrypoints.cli import main

TABLES = ("accounts", "users", "subscriptions", "addon_items", "orders", "invoices", "invoice_lines",
          "payments", "license_assignments", "audit_log", "carts", "handoffs", "invoice_sequences")


@pytest.fixture
def billing(database_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("BILLING_DATABASE_URL", database_url)
    monkeypatch.setenv("BILLING_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BILLING_CATALOG", raising=False)

    def run(*args: str, now: str = "2026-11-26") -> tuple[int, dict]:
        monkeypatch.setenv("BILLING_NOW", now)
        capsys.readouterr()
        code = main([*args, "--json"] if "--json" not in args and args[:2] not in (("db", "upgrade"),) and
                    args[:2] != ("invoice", "pdf") else list(args))
        out = capsys.readouterr().out.strip()
        return code, json.loads(out) if out else {}
    return run


def snapshot(url: str) -> dict:
    engine = create_engine(url, future=True)
    with engine.connect() as conn:
        data = {table: sorted(map(str, conn.execute(text(f"SELECT * FROM {table}")).all())) for table in TABLES}
    engine.dispose()
    return data


def create(billing, account, plan, cycle, licenses, start):
    code, out = billing("account", "create", account, "--plan", plan, "--cycle", cycle, "--licenses", str(licenses),
                        "--period-start", start, "--owner", f"owner@{account}.it")
    assert code == 0, out


WORKED_EXAMPLES = [
    # (plan, cycle, licenses, period start, today, change, amounts, net, tax, total)
    ("pro", "monthly", 10, "2026-11-01", "2026-11-16", ["--plan", "business"], ["-69.95", "109.95"],
     "40.00", "8.80", "48.80"),
    ("business", "annual", 10, "2026-03-01", "2026-11-26", ["--licenses", "12"], ["114.47"], "114.47", "25.18",
     "139.65"),
    ("business", "monthly", 10, "2026-11-10", "2026-11-26", ["--cycle", "annual"], ["-102.62", "2199.00"],
     "2096.38", "461.20", "2557.58"),
    ("business", "annual", 12, "2026-03-01", "2026-11-26", ["--cycle", "monthly"], ["-686.81", "263.88"],
     "-422.93", "0.00", "0.00"),
]


@pytest.mark.parametrize("example", range(len(WORKED_EXAMPLES)))
def test_worked_examples_through_billing_quote(billing, example):
    plan, cycle, licenses, start, today, change, amounts, net, tax, total = WORKED_EXAMPLES[example]
    create(billing, "acme", plan, cycle, licenses, start)
    code, quote = billing("quote", "acme", *change, now=today)
    assert code == 0
    assert [line["amount"] for line in quote["lines"]] == amounts
    assert (quote["net"], quote["tax"], quote["total"]) == (net, tax, total)
    for line in quote["lines"]:
        assert {"kind", "sku", "quantity", "unit_price", "start", "end", "days", "period_days", "amount"} <= set(line)
    assert {"balance_applied", "taxable", "balance_after", "effective", "next_renewal"} <= set(quote)


def test_worked_example_1_renewal_and_example_4_balance(billing):
    create(billing, "a1", "pro", "monthly", 10, "2026-11-01")
    _, quote = billing("quote", "a1", "--plan", "business", now="2026-11-16")
    assert quote["next_renewal"] == {"date": "2026-12-01", "amount": "219.90"}
    create(billing, "a4", "business", "annual", 12, "2026-03-01")
    code, order = billing("order", "place", "a4", "--cycle", "monthly", "--by", "owner@a4.it", "--key", "k")
    assert code == 0 and order["balance_after"] == "422.93"
    assert billing("account", "show", "a4")[1]["balance"] == "422.93"


def test_worked_example_5_webinar_capacity(billing):
    create(billing, "w", "business", "monthly", 10, "2026-11-01")
    code, _ = billing("order", "place", "w", "--add-addon", "webinar_500", "--by", "owner@w.it", "--key", "buy",
                      now="2026-11-01")
    assert code == 0
    code, quote = billing("quote", "w", "--addon-capacity", "webinar_500=webinar_1000")
    assert [line["amount"] for line in quote["lines"]] == ["-13.17", "56.67"]
    assert (quote["net"], quote["tax"]) == ("43.50", "9.57")


@pytest.mark.parametrize("today, expires", [("2027-01-31", "2027-02-28"), ("2028-01-31", "2028-02-29")])
def test_worked_example_6_one_month_addon(billing, today, expires):
    create(billing, "lm", "pro", "monthly", 3, "2027-01-15")
    code, quote = billing("quote", "lm", "--add-addon", "large_meeting_500_1m", now=today)
    assert code == 0 and quote["lines"][0]["end"] == expires and quote["lines"][0]["amount"] == "55.00"


def test_refusals_exit_3_with_code_and_italian_message(billing):
    create(billing, "p", "pro", "monthly", 5, "2026-11-01")
    code, out = billing("quote", "p", "--plan", "business")
    assert code == 3 and out["refusal"]["code"] == "business_minimum"
    assert "almeno 10 licenze" in out["refusal"]["message"]
    code, out = billing("quote", "p", "--plan", "enterprise")
    assert code == 3 and out["refusal"]["code"] == "enterprise_sales_only"
    code, out = billing("quote", "p", "--licenses", "5")
    assert code == 3 and out["refusal"]["code"] == "no_change"
    assert out["refusal"]["message"] == "Non c'è niente da cambiare: hai già il piano Pro con 5 licenze, fatturazione mensile."


@pytest.mark.parametrize("args, expected_exit", [
    (("quote", "ghost", "--licenses", "3"), 2),
    (("quote", "p", "--licenses", "0"), 3),
    (("quote", "p", "--licenses", "-4"), 3),
    (("quote", "p", "--licenses", "2.5"), 3),
    (("quote", "p", "--licenses", "100000"), 3),
    (("quote", "p", "--add-addon", "webinar_9000"), 2),
    (("quote", "p"), 2),
    (("order", "place", "p", "--licenses", "7", "--by", "ghost@p.it", "--key", "x"), 2),
    (("order", "place", "p", "--licenses", "0", "--by", "owner@p.it", "--key", "x"), 3),
    (("account", "create", "z", "--plan", "pro", "--cycle", "monthly", "--licenses", "3", "--period-start",
      "2026-13-45"), 2),
    (("account", "create", "z", "--plan", "pro", "--cycle", "monthly", "--licenses", "3", "--period-start",
      "2026-11-01", "--owner", "not-an-email"), 2),
    (("user", "add", "p", "x@p.it", "--role", "king"), 2),
    (("user", "add", "p", "bad email", "--role", "member"), 2),
    (("user", "add", "ghost", "x@p.it", "--role", "member"), 2),
    (("invoice", "list", "ghost"), 2),
])
def test_bad_input_gets_italian_error_and_leaves_database_unchanged(billing, database_url, args, expected_exit):
    create(billing, "p", "pro", "monthly", 5, "2026-11-01")
    before = snapshot(database_url)
    code, out = billing(*args)
    assert code == expected_exit
    problem = out.get("refusal") or out.get("error")
    assert problem and problem["message"] and not problem["message"].startswith("Traceback")
    assert snapshot(database_url) == before


def test_invalid_billing_now_and_catalog_exit_2(billing, monkeypatch, tmp_path):
    create(billing, "p", "pro", "monthly", 5, "2026-11-01")
    code, out = billing("quote", "p", "--licenses", "6", now="domani")
    assert code == 2 and "BILLING_NOW" in out["error"]["message"]
    broken = tmp_path / "catalog.yml"
    broken.write_text("plans: [unclosed", encoding="utf-8")
    monkeypatch.setenv("BILLING_CATALOG", str(broken))
    code, out = billing("quote", "p", "--licenses", "6")
    assert code == 2 and "catalogo" in out["error"]["message"]


def test_order_place_is_idempotent_and_invoice_pdf_is_written(billing, tmp_path):
    create(billing, "o", "pro", "monthly", 5, "2026-11-01")
    code, first = billing("order", "place", "o", "--licenses", "7", "--by", "owner@o.it", "--key", "dbl")
    code2, second = billing("order", "place", "o", "--licenses", "7", "--by", "owner@o.it", "--key", "dbl")
    assert code == code2 == 0 and second["replayed"] and second["invoice"] == first["invoice"] == "2026/000001"
    _, listing = billing("invoice", "list", "o")
    assert [(i["number"], i["status"]) for i in listing["invoices"]] == [("2026/000001", "paid")]
    target = tmp_path / "f.pdf"
    assert billing("invoice", "pdf", "2026/000001", "-o", str(target))[0] == 0
    assert target.read_bytes().startswith(b"%PDF")


def test_order_place_with_a_stale_quote_fingerprint_is_refused(billing):
    create(billing, "s", "pro", "monthly", 5, "2026-11-01")
    _, quote = billing("quote", "s", "--licenses", "7")
    assert billing("order", "place", "s", "--licenses", "8", "--by", "owner@s.it", "--key", "a")[0] == 0
    code, out = billing("order", "place", "s", "--licenses", "7", "--by", "owner@s.it", "--key", "b",
                        "--quote", quote["fingerprint"])
    assert code == 3 and out["refusal"]["code"] == "quote_changed" and "quote" in out["refusal"]


def test_renew_bills_every_ended_period(billing):
    create(billing, "r", "pro", "monthly", 2, "2026-10-01")
    code, out = billing("renew", now="2026-11-26")
    assert code == 0 and [(r["account"], r["total"]) for r in out["renewed"]] == [("r", "34.14")]
    assert billing("renew", now="2026-11-26")[1] == {"renewed": []}


def test_users_slack_link_token_and_blockers(billing):
    create(billing, "u", "pro", "monthly", 5, "2026-11-01")
    assert billing("user", "add", "u", "m@u.it", "--role", "member")[0] == 0
    assert billing("user", "link-slack", "m@u.it", "U123")[1]["email"] == "m@u.it"
    code, token = billing("token", "m@u.it")
    assert code == 0 and token["token"].count(".") == 2 and token["role"] == "member"
    code, out = billing("account", "blockers", "u", "--user", "m@u.it")
    assert [r["code"] for r in out["reasons"]] == ["no_billing_role"]


def test_demo_seed_covers_every_state(billing):
    code, out = billing("demo", "seed")
    assert code == 0 and len(out["seeded"]) >= 5
    _, ferri = billing("account", "blockers", "ferri-logistica")
    _, globex = billing("account", "blockers", "globex")
    _, verdi = billing("account", "blockers", "verdi-design")
    assert [r["code"] for r in ferri["reasons"]] == ["unpaid_invoices"]
    assert [r["code"] for r in globex["reasons"]] == ["sales_managed"]
    assert [r["code"] for r in verdi["reasons"]] == ["pending_change"]
    _, acme = billing("account", "show", "acme")
    assert acme["assigned_licenses"] == 5 and {a["sku"] for a in acme["addons"]} == {"webinar_500",
                                                                                      "cloud_recording_1tb"}
    assert billing("demo", "seed")[1] == {"seeded": []}  # only into an empty database


def test_installed_console_script_runs(tmp_path):
    """The real entry point in the venv, as a subprocess (exit code and JSON on stdout)."""
    env = dict(os.environ, BILLING_DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}", BILLING_NOW="2026-11-26")
    script = Path(sys.executable).with_name("billing")
    assert subprocess.run([str(script), "db", "upgrade"], env=env, capture_output=True).returncode == 0
    done = subprocess.run([str(script), "quote", "ghost", "--licenses", "2", "--json"], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 2 and json.loads(done.stdout)["error"]["code"] == "unknown_account"
