"""The `billing` command: operators, scripts and tests drive the engine through it.

Exit codes: 0 done, 2 usage error or unknown account, 3 refused by a billing rule.
With --json every command prints one JSON object.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

from sqlalchemy.exc import OperationalError, ProgrammingError

from billing_core import config
from billing_core.clock import InvalidClock
from billing_core.domain.catalog import CatalogError
from billing_core.domain.model import AddonPurchase, ChangeSet, InvalidRequest, Refused
from billing_core.formatting import format_date, format_eur
from billing_core.i18n import text
from billing_core.presentation import (
    invalid_request_message,
    line_days,
    line_description,
    refusal_message,
    scheduled_description,
)
from billing_core.service.views import quote_dict, quote_fingerprint

EXIT_OK, EXIT_USAGE, EXIT_REFUSED = 0, 2, 3


class UsageError(Exception):
    """Bad command-line input, already worded in Italian."""


class ItalianArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own wording is English: lead with Italian
        raise UsageError(f"Comando non valido ({message}). Usa «{self.prog} --help» per l'elenco delle opzioni.")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(text("error_invalid_date", value=value)) from None


def _count(option: str):
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise UsageError(text("error_invalid_number", value=value, option=option)) from None
        return number
    return parse


def _add_change_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan")
    parser.add_argument("--licenses", help="the new TOTAL of licenses")
    parser.add_argument("--cycle")
    parser.add_argument("--add-addon", action="append", default=[])
    parser.add_argument("--addon-cycle")
    parser.add_argument("--addon-qty", type=_count("--addon-qty"), default=1)
    parser.add_argument("--addon-capacity", action="append", default=[])
    parser.add_argument("--remove-addon", action="append", default=[])


def _changes(args: argparse.Namespace) -> ChangeSet:
    capacity = []
    for pair in args.addon_capacity:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise UsageError(text("error_bad_capacity_pair"))
        capacity.append((old.strip(), new.strip()))
    changes = ChangeSet(
        plan=args.plan, licenses=args.licenses, cycle=args.cycle,
        add_addons=tuple(AddonPurchase(sku, args.addon_cycle, args.addon_qty) for sku in args.add_addon),
        addon_capacity=tuple(capacity), remove_addons=tuple(args.remove_addon))
    if changes.is_empty():
        raise UsageError(text("error_no_change_given"))
    return changes


def build_parser() -> argparse.ArgumentParser:
    parser = ItalianArgumentParser(prog="billing", description="Motore di fatturazione dell'assistente.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ItalianArgumentParser)

    db = commands.add_parser("db").add_subparsers(dest="action", required=True, parser_class=ItalianArgumentParser)
    db.add_parser("upgrade")
    demo = commands.add_parser("demo").add_subparsers(dest="action", required=True, parser_class=ItalianArgumentParser)
    demo.add_parser("seed").add_argument("--json", action="store_true")

    account = commands.add_parser("account").add_subparsers(dest="action", required=True,
                                                             parser_class=ItalianArgumentParser)
    create = account.add_parser("create")
    create.add_argument("account")
    create.add_argument("--plan", required=True)
    create.add_argument("--cycle", required=True)
    create.add_argument("--licenses", required=True)
    create.add_argument("--period-start", required=True, type=_date)
    create.add_argument("--owner")
    create.add_argument("--name")
    create.add_argument("--country", default="IT")
    create.add_argument("--vat-id")
    create.add_argument("--fiscal-code")
    create.add_argument("--address", default="")
    create.add_argument("--sales-managed", choices=["contract", "custom_pricing", "sales_quote", "enterprise"])
    create.add_argument("--json", action="store_true")
    show = account.add_parser("show")
    show.add_argument("account")
    show.add_argument("--json", action="store_true")
    card = account.add_parser("set-card", help="simulated card on file: approve or decline charges")
    card.add_argument("account")
    card.add_argument("--decline", action="store_true")
    card.add_argument("--json", action="store_true")
    blockers = account.add_parser("blockers", help="why self-service editing is disabled")
    blockers.add_argument("account")
    blockers.add_argument("--user")
    blockers.add_argument("--json", action="store_true")

    user = commands.add_parser("user").add_subparsers(dest="action", required=True, parser_class=ItalianArgumentParser)
    add = user.add_parser("add")
    add.add_argument("account")
    add.add_argument("email")
    add.add_argument("--role", required=True)
    add.add_argument("--name", default="")
    add.add_argument("--json", action="store_true")
    link = user.add_parser("link-slack")
    link.add_argument("email")
    link.add_argument("slack_user_id")
    link.add_argument("--json", action="store_true")

    token = commands.add_parser("token")
    token.add_argument("email")
    token.add_argument("--ttl-hours", type=_count("--ttl-hours"), default=12)
    token.add_argument("--json", action="store_true")

    quote = commands.add_parser("quote")
    quote.add_argument("account")
    quote.add_argument("--by", help="quote as this user (applies the billing-role rule)")
    quote.add_argument("--json", action="store_true")
    _add_change_options(quote)

    order = commands.add_parser("order").add_subparsers(dest="action", required=True,
                                                         parser_class=ItalianArgumentParser)
    place = order.add_parser("place")
    place.add_argument("account")
    place.add_argument("--by", required=True)
    place.add_argument("--key", required=True)
    place.add_argument("--quote", help="the fingerprint of the quote the user saw: refuse if it changed")
    place.add_argument("--json", action="store_true")
    _add_change_options(place)

    invoice = commands.add_parser("invoice").add_subparsers(dest="action", required=True,
                                                             parser_class=ItalianArgumentParser)
    listing = invoice.add_parser("list")
    listing.add_argument("account")
    listing.add_argument("--json", action="store_true")
    pdf = invoice.add_parser("pdf")
    pdf.add_argument("number")
    pdf.add_argument("-o", "--output", required=True)

    license_ = commands.add_parser("license").add_subparsers(dest="action", required=True,
                                                              parser_class=ItalianArgumentParser)
    for name in ("assign", "unassign"):
        sub = license_.add_parser(name)
        sub.add_argument("account")
        sub.add_argument("email")
        sub.add_argument("--by", required=True)
        sub.add_argument("--product", default="license")
        sub.add_argument("--json", action="store_true")

    renew = commands.add_parser("renew")
    renew.add_argument("--json", action="store_true")
    return parser


def _service():
    from billing_core.service.bootstrap import bootstrap

    return bootstrap()


def run(args: argparse.Namespace) -> dict:
    """Carry out one command; returns the JSON-able result."""
    if args.command == "db":
        from billing_core.adapters.migrations import upgrade

        upgrade(config.database_url())
        return {"migrated": True}
    service = _service()
    if args.command == "demo":
        from billing_core.demo import seed

        return {"seeded": seed(service)}
    if args.command == "account":
        if args.action == "create":
            service.create_account(args.account, name=args.name, plan=args.plan, cycle=args.cycle,
                                   licenses=args.licenses, period_start=args.period_start, owner=args.owner,
                                   country=args.country, vat_id=args.vat_id, fiscal_code=args.fiscal_code,
                                   address=args.address, sales_managed_reason=args.sales_managed)
            return service.account_summary(args.account)
        if args.action == "show":
            return service.account_summary(args.account)
        if args.action == "set-card":
            service.set_card(args.account, "tok_decline" if args.decline else "tok_ok",
                             "0002" if args.decline else "4242")
            return service.account_summary(args.account)
        if args.action == "blockers":
            reasons = service.edit_blockers(args.account, args.user)
            return {"editable": not reasons,
                    "reasons": [{"code": r.code, "message": refusal_message(r, service.catalog)} for r in reasons]}
    if args.command == "user":
        if args.action == "add":
            service.add_user(args.account, args.email, args.role, args.name)
            return service.identity(args.email)
        service.link_slack(args.email, args.slack_user_id)
        return service.identity(args.email)
    if args.command == "token":
        from billing_core.auth import mint_token

        who = service.identity(args.email)
        return {"token": mint_token(who["email"], who["account_id"], who["role"],
                                    ttl=dt.timedelta(hours=args.ttl_hours)), **who}
    if args.command == "quote":
        quote = service.quote(args.account, _changes(args), args.by)
        return quote_dict(quote) | {"fingerprint": quote_fingerprint(quote), "text": _quote_text(quote, service.catalog)}
    if args.command == "order":
        result = service.place_order(args.account, _changes(args), by=args.by, idempotency_key=args.key,
                                     expected_quote=args.quote)
        return {"order_id": result.order_id, "replayed": result.replayed, "invoice": result.invoice_number,
                "invoice_status": result.invoice_status, "charged": f"{result.charged:.2f}", **result.quote}
    if args.command == "invoice":
        if args.action == "list":
            return {"invoices": service.invoices(args.account)}
        data = service.invoice_pdf(args.number)
        Path(args.output).write_bytes(data)
        return {"invoice": args.number, "file": args.output, "bytes": len(data)}
    if args.command == "license":
        method = service.assign if args.action == "assign" else service.unassign
        method(args.account, args.by, args.email, args.product)
        return service.account_summary(args.account)
    if args.command == "renew":
        return {"renewed": service.renew_due()}
    raise UsageError("comando sconosciuto")


def _quote_text(quote, catalog) -> str:
    rows = [f"{line_description(line, catalog)} [{line_days(line)}]: {format_eur(line.amount)}" for line in quote.lines]
    rows += [scheduled_description(change, catalog) for change in quote.scheduled]
    rows.append(f"Netto {format_eur(quote.net)}, IVA {format_eur(quote.tax)}, totale {format_eur(quote.total)}")
    rows.append(f"Prossimo rinnovo: {format_date(quote.next_renewal.date)}, {format_eur(quote.next_renewal.amount)} + IVA")
    return "\n".join(rows)


def _print(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=_json_default))
    elif "text" in result:
        print(result["text"])
    else:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: object) -> str:
    if isinstance(value, (Decimal, dt.date)):
        return str(value)
    raise TypeError(type(value).__name__)


def _fail(message: str, code: str, as_json: bool, exit_code: int, extra: dict | None = None) -> int:
    if as_json:
        key = "refusal" if exit_code == EXIT_REFUSED else "error"
        print(json.dumps({key: {"code": code, "message": message, **(extra or {})}}, ensure_ascii=False,
                         default=_json_default))
    else:
        print(message, file=sys.stderr)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        _print(run(args), as_json)
        return EXIT_OK
    except UsageError as error:
        return _fail(str(error), "usage", as_json, EXIT_USAGE)
    except Refused as refusal:
        from billing_core.domain.catalog import load_catalog

        extra = {"quote": quote_dict(refusal.params["quote"])} if refusal.code == "quote_changed" else None
        return _fail(refusal_message(refusal, load_catalog()), refusal.code, as_json, EXIT_REFUSED, extra)
    except InvalidRequest as error:
        return _fail(invalid_request_message(error), error.key, as_json, EXIT_USAGE)
    except (CatalogError, InvalidClock) as error:
        return _fail(str(error), "configuration", as_json, EXIT_USAGE)
    except (OperationalError, ProgrammingError) as error:
        detail = str(error.orig).splitlines()[0] if error.orig else type(error).__name__
        return _fail(text("error_database", detail=detail), "database", as_json, EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())
