"""Answers about the signed-in account: plan, invoices, why editing is disabled, license assignments."""
from __future__ import annotations

import datetime as dt

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import offer_handoff
from actions.runtime import Caller, SignedInAction, call, service
from billing_core.domain.model import AddonItem, InvalidRequest, Refused, Subscription
from billing_core.domain.rules import next_renewal, pending_changes
from billing_core.formatting import format_date, format_eur
from billing_core.i18n import text
from billing_core.presentation import (
    cycle_name,
    invalid_request_message,
    join_it,
    licenses,
    product_name,
    refusal_message,
    scheduled_description,
)

def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


class ActionCheckPlan(SignedInAction):
    def name(self) -> str:
        return "action_check_plan"

    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        summary = await call(service().account_summary, who.account_id)
        catalog = service().catalog
        rows = [text("plan_summary", plan=product_name(summary["plan"], catalog), cycle=cycle_name(summary["cycle"]),
                     licenses=licenses(summary["licenses"]), assigned=summary["assigned_licenses"])]
        if summary["sales_managed"] or catalog.plan(summary["plan"]).sales_only:
            ae = summary["account_executive"]
            rows.append(text("plan_sales_managed", ae_name=ae["name"], ae_email=ae["email"]))
        else:
            sub = _subscription(summary)
            renewal = next_renewal(sub, catalog)
            rows.append(text("plan_period", start=format_date(sub.period_start),
                             end=format_date(sub.period_end - dt.timedelta(days=1)),
                             renewal=format_date(sub.period_end)))
            rows.append(text("quote_renewal", date=format_date(renewal.date), amount=format_eur(renewal.amount)))
            changes = pending_changes(sub)
            if changes:
                rows.append(text("plan_pending", changes=join_it(
                    [scheduled_description(change, catalog) for change in changes])))
        addons = [
            text("addon_item_one_off", name=product_name(a["sku"], catalog), end=format_date(_date(a["period_end"])))
            if a["cycle"] == "one_month" else
            text("addon_item", name=product_name(a["sku"], catalog), cycle=cycle_name(a["cycle"]),
                 quantity=a["quantity"])
            for a in summary["addons"]]
        rows.append(text("plan_addons", addons=join_it(addons)) if addons else text("plan_no_addons"))
        if float(summary["balance"]) > 0:
            rows.append(text("plan_balance", amount=format_eur(summary["balance"])))
        dispatcher.utter_message(text="\n".join(rows))
        return []


def _subscription(summary: dict) -> Subscription:
    addons = tuple(AddonItem(a["sku"], a["quantity"], a["cycle"], _date(a["period_start"]), _date(a["period_end"]),
                             a["pending_removal"], a["pending_sku"]) for a in summary["addons"])
    return Subscription(summary["plan"], summary["cycle"], summary["licenses"], _date(summary["period_start"]),
                        _date(summary["period_end"]), summary["pending_plan"], summary["pending_licenses"], addons)


class ActionCheckInvoices(SignedInAction):
    def name(self) -> str:
        return "action_check_invoices"

    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        invoices = await call(service().invoices, who.account_id)
        if not invoices:
            dispatcher.utter_message(text=text("invoices_none"))
            return []
        rows = [text("invoices_title")]
        for invoice in reversed(invoices[-5:]):
            status = (text("chat_invoice_paid") if invoice["status"] == "paid" else
                      text("chat_invoice_unpaid", due=format_date(_date(invoice["due_date"]))))
            rows.append(text("chat_invoice_row", number=invoice["number"], date=format_date(_date(invoice["issued_on"])),
                             total=format_eur(invoice["total"]), status=status))
        if any(invoice["status"] == "unpaid" for invoice in invoices):
            rows.append(text("invoices_unpaid_note"))
        rows.append(text("invoices_where"))
        dispatcher.utter_message(text="\n".join(rows))
        return []


class ActionExplainEditBlocked(SignedInAction):
    """Why "Modifica piano" is disabled, from the account's real state."""

    def name(self) -> str:
        return "action_explain_edit_blocked"

    def answer_anonymous(self, dispatcher: CollectingDispatcher) -> None:
        dispatcher.utter_message(text=text("blocked_reasons_general"))
        super().answer_anonymous(dispatcher)

    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        blockers = await call(service().edit_blockers, who.account_id, who.email)
        if not blockers:
            dispatcher.utter_message(text=text("nothing_blocks"))
            return []
        dispatcher.utter_message(text="\n".join(
            [text("blocked_intro")] + [f"• {refusal_message(r, service().catalog)}" for r in blockers]))
        if any(r.code == "sales_managed" for r in blockers):
            offer_handoff(dispatcher)
        return []


class _LicenseAssignmentAction(SignedInAction):
    assign = True

    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        emails = [e["value"] for e in tracker.latest_message.get("entities", []) if e.get("entity") == "email"]
        if not emails:
            dispatcher.utter_message(text=text("assign_need_email" if self.assign else "unassign_need_email"))
            return []
        product = self._product(tracker)
        method = service().assign if self.assign else service().unassign
        try:
            await call(method, who.account_id, who.email, emails[0], product,
                       channel=tracker.get_latest_input_channel() or "chat")
        except Refused as refusal:
            dispatcher.utter_message(text=refusal_message(refusal, service().catalog))
            return []
        except InvalidRequest as error:
            dispatcher.utter_message(text=invalid_request_message(error))
            return []
        name = "una licenza" if product == "license" else product_name(product, service().catalog)
        if self.assign:
            summary = await call(service().account_summary, who.account_id)
            free = summary["licenses"] - summary["assigned_licenses"]
            dispatcher.utter_message(text=text("assign_done", product=name, email=emails[0],
                                               free_text=text("free_licenses", count=free)))
        else:
            dispatcher.utter_message(text=text("unassign_done", product=name, email=emails[0]))
        return []

    def _product(self, tracker: Tracker) -> str:
        addon = next((e["value"] for e in tracker.latest_message.get("entities", []) if e.get("entity") == "addon"),
                     None)
        if addon == "cloud_recording":
            return "cloud_recording_1tb"
        capacity = next((e["value"] for e in tracker.latest_message.get("entities", [])
                         if e.get("entity") == "capacity"), "500")
        return f"{addon}_{capacity}" if addon else "license"


class ActionAssignLicense(_LicenseAssignmentAction):
    def name(self) -> str:
        return "action_assign_license"


class ActionUnassignLicense(_LicenseAssignmentAction):
    assign = False

    def name(self) -> str:
        return "action_unassign_license"
