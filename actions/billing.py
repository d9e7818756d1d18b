"""Plan changes: start a change, gather what it needs (change_form), quote it, place it, the cart."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import hand_off, offer_handoff
from actions.italian_numbers import parse_quantity
from actions.render import cart_lines, confirm_buttons, quote_text
from actions.runtime import Caller, SignedInAction, call, caller, service
from billing_core.domain.model import AddonPurchase, ChangeSet, InvalidRequest, Refused
from billing_core.formatting import format_date, format_eur
from billing_core.i18n import text
from billing_core.presentation import invalid_request_message, join_it, licenses, refusal_message
from billing_core.service.views import quote_fingerprint

LICENSE_INTENTS = {"add_licenses": "add", "remove_licenses": "remove", "set_licenses": "set", "change_licenses": "set"}
CHANGE_KINDS = {
    "upgrade_plan": "plan", "downgrade_plan": "plan", "change_billing_cycle": "cycle",
    "buy_addon": "addon", "upgrade_addon": "addon_capacity", **{intent: "licenses" for intent in LICENSE_INTENTS},
}
FORM_SLOTS = ("plan", "billing_cycle", "addon", "capacity", "quantity", "license_total")
CAPACITIES = {"webinar": (500, 1000), "large_meeting": (500, 1000)}
ADDON_SKUS = {"cloud_recording": "cloud_recording_1tb"}
UNASSIGN_BUTTONS = 5


def entity_values(tracker: Tracker, entity: str) -> list[str]:
    return [str(e.get("value")) for e in tracker.latest_message.get("entities", []) if e.get("entity") == entity]


def addon_sku(addon: str | None, capacity: object) -> str | None:
    if not addon:
        return None
    if addon in ADDON_SKUS:
        return ADDON_SKUS[addon]
    return f"{addon}_{int(capacity)}" if capacity else None


async def explain_refusal(dispatcher: CollectingDispatcher, refusal: Refused) -> None:
    dispatcher.utter_message(text=refusal_message(refusal, service().catalog))
    if refusal.code == "business_minimum":
        dispatcher.utter_message(buttons=[
            {"title": "Preventivo per 10 licenze Business",
             "payload": '/upgrade_plan{"plan": "business", "quantity": "10"}'},
            {"title": "Add-on Large Meeting", "payload": '/buy_addon{"addon": "large_meeting"}'},
        ])
    if refusal.code == "licenses_assigned":
        dispatcher.utter_message(text=text("offer_unassign"), buttons=[
            {"title": text("button_unassign", email=email), "payload": f'/unassign_license{{"email": "{email}"}}'}
            for email in list(refusal.params["holders"])[:UNASSIGN_BUTTONS]])
    if refusal.code in ("enterprise_sales_only", "sales_managed"):
        offer_handoff(dispatcher)


class ActionStartChange(Action):
    """Who may change what: checks the caller and the account before any question is asked."""

    def name(self) -> str:
        return "action_start_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        kind = CHANGE_KINDS.get(intent, "licenses")
        events: list[EventType] = [SlotSet("change_kind", kind), SlotSet("pending_change", None)]
        # Slots from earlier turns must not leak into this change; this message's entities stay.
        present = {e.get("entity") for e in tracker.latest_message.get("entities", [])}
        events += [SlotSet(slot, None) for slot in FORM_SLOTS if slot not in present or slot == "license_total"]
        events.append(SlotSet("license_mode", LICENSE_INTENTS.get(intent, "set")))
        if intent == "downgrade_plan" and "plan" not in present:
            events.append(SlotSet("plan", "pro"))  # the only self-service plan below Business
        who = await caller(tracker)
        if who is None:
            dispatcher.utter_message(text=text("sign_in_needed"))
            return events + [SlotSet("can_change", False)]
        if "enterprise" in entity_values(tracker, "plan"):
            dispatcher.utter_message(text=text("enterprise_intro"))
            await hand_off(dispatcher, tracker, who, "enterprise")
            return events + [SlotSet("can_change", False)]
        blockers = await call(service().edit_blockers, who.account_id, who.email)
        if blockers:
            dispatcher.utter_message(text=text("blocked_intro"))
            for refusal in blockers:
                dispatcher.utter_message(text=refusal_message(refusal, service().catalog))
            if any(r.code == "sales_managed" for r in blockers):
                offer_handoff(dispatcher)
            return events + [SlotSet("can_change", False)]
        return events + [SlotSet("can_change", True)]


class ValidateChangeForm(FormValidationAction):
    def name(self) -> str:
        return "validate_change_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        kind = tracker.get_slot("change_kind")
        if kind == "licenses":
            return ["license_total"]
        if kind == "plan":
            return ["plan"]
        if kind == "cycle":
            return ["billing_cycle"]
        if kind in ("addon", "addon_capacity"):
            addon = tracker.get_slot("addon")
            needs_capacity = addon in CAPACITIES or addon is None
            return ["addon", "capacity"] if needs_capacity else ["addon"]
        return []

    async def extract_license_total(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("change_kind") != "licenses":
            return {}
        raw = entity_values(tracker, "quantity")
        if not raw:
            return {}
        number = parse_quantity(raw[0])
        if number is None:
            dispatcher.utter_message(text=text("license_not_a_number"))
            return {"license_total": None}
        intent = tracker.latest_message.get("intent", {}).get("name")
        mode = LICENSE_INTENTS.get(intent) or tracker.get_slot("license_mode") or "set"
        if intent == "change_licenses":
            mode = tracker.get_slot("license_mode") or "set"
        current = await _current_licenses(tracker)
        total = {"add": current + number, "remove": current - number}.get(mode, number)
        if total < 1:
            dispatcher.utter_message(text=text("license_total_not_positive", total=total))
            return {"license_total": None}
        return {"license_total": total, "license_mode": mode, "quantity": str(number)}

    async def extract_capacity(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        values = [int(v) for v in entity_values(tracker, "capacity") if v.isdigit()]
        return {"capacity": str(max(values))} if values else {}

    def validate_capacity(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> dict[str, Any]:
        addon = tracker.get_slot("addon")
        allowed = CAPACITIES.get(addon, (500, 1000))
        if str(value).isdigit() and int(value) in allowed:
            return {"capacity": str(int(value))}
        dispatcher.utter_message(text=text("capacity_invalid", addon=_addon_label(addon)))
        return {"capacity": None}

    def validate_addon(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: DomainDict) -> dict[str, Any]:
        if value in ("webinar", "large_meeting", "cloud_recording"):
            return {"addon": value}
        dispatcher.utter_message(text=text("addon_invalid"))
        return {"addon": None}

    def validate_plan(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> dict[str, Any]:
        return {"plan": value if value in ("pro", "business", "enterprise") else None}

    def validate_billing_cycle(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        return {"billing_cycle": value if value in ("monthly", "annual") else None}


def _addon_label(addon: str | None) -> str:
    return {"webinar": "Webinar", "large_meeting": "Large Meeting", "cloud_recording": "Cloud Recording"}.get(
        addon or "", "l'add-on")


async def _current_licenses(tracker: Tracker) -> int:
    who = await caller(tracker)
    if who is None:
        return 0
    summary = await call(service().account_summary, who.account_id)
    return summary["licenses"]


class ActionAskLicenseTotal(Action):
    def name(self) -> str:
        return "action_ask_license_total"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        current = await _current_licenses(tracker)
        mode = tracker.get_slot("license_mode") or "set"
        dispatcher.utter_message(text=text(f"ask_license_total_{mode}", current=licenses(current)))
        return []


async def requested_changes(tracker: Tracker, who: Caller) -> tuple[ChangeSet | None, str | None]:
    """The ChangeSet the filled slots describe, and an intro sentence (license totals)."""
    kind = tracker.get_slot("change_kind")
    if kind == "licenses":
        total = tracker.get_slot("license_total")
        if total is None:
            return None, None
        total = int(total)
        current = await _current_licenses(tracker)
        mode = tracker.get_slot("license_mode") or "set"
        if mode in ("add", "remove") and abs(total - current):
            intro = text(f"license_intro_{mode}", current=licenses(current), delta=abs(total - current),
                         total=total)
        else:
            intro = text("license_intro_set", current=licenses(current), total=total)
        return ChangeSet(licenses=total), intro
    if kind == "plan":
        quantity = tracker.get_slot("quantity")
        total = parse_quantity(str(quantity)) if quantity else None
        return ChangeSet(plan=tracker.get_slot("plan"), licenses=total), None
    if kind == "cycle":
        return ChangeSet(cycle=tracker.get_slot("billing_cycle")), None
    if kind in ("addon", "addon_capacity"):
        addon, capacity = tracker.get_slot("addon"), tracker.get_slot("capacity")
        target = addon_sku(addon, capacity)
        if target is None:
            return None, None
        if kind == "addon":
            return ChangeSet(add_addons=(AddonPurchase(target, tracker.get_slot("billing_cycle")),)), None
        summary = await call(service().account_summary, who.account_id)
        owned = [a["sku"] for a in summary["addons"]
                 if a["cycle"] != "one_month" and a["sku"].startswith(addon + "_")]
        if not owned:
            return None, text("addon_not_owned_for_upgrade", addon=_addon_label(addon))
        if target in owned:
            return None, text("addon_already_max", addon=service().catalog.addon(target).name)
        return ChangeSet(addon_capacity=((owned[0], target),)), None
    return None, None


async def show_quote(dispatcher: CollectingDispatcher, tracker: Tracker, who: Caller, changes: ChangeSet,
                     intro: str | None, *, from_cart: bool = False) -> list[EventType]:
    try:
        quote = await call(service().quote, who.account_id, changes, who.email)
    except Refused as refusal:
        await explain_refusal(dispatcher, refusal)
        return [SlotSet("pending_change", None)]
    except InvalidRequest as error:
        dispatcher.utter_message(text=invalid_request_message(error))
        return [SlotSet("pending_change", None)]
    dispatcher.utter_message(text=quote_text(quote, service().catalog, intro))
    total = quote.new_subscription.pending_licenses or quote.new_subscription.licenses
    question = (text("confirm_licenses", total=licenses(total)) if changes.licenses is not None
                else text("confirm_generic"))
    dispatcher.utter_message(text=question, buttons=confirm_buttons(with_cart=not from_cart))
    pending = {"changes": changes.to_dict(), "quote": quote_fingerprint(quote), "nonce": uuid.uuid4().hex,
               "account_id": who.account_id, "email": who.email,
               "cart": from_cart, "licenses_before": quote.old_subscription.licenses}
    return [SlotSet("pending_change", pending)]


class ActionQuoteChange(SignedInAction):
    def name(self) -> str:
        return "action_quote_change"

    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        changes, intro = await requested_changes(tracker, who)
        if changes is None:
            if intro:
                dispatcher.utter_message(text=intro)
            return [SlotSet("pending_change", None)]
        return await show_quote(dispatcher, tracker, who, changes, intro)


class ActionPlaceOrder(Action):
    """The explicit yes: places exactly the quoted change, once."""

    def name(self) -> str:
        return "action_place_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        pending = tracker.get_slot("pending_change")
        last = tracker.get_slot("last_order")
        if not pending:
            if last:
                dispatcher.utter_message(text=text("already_ordered", invoice=last))
            else:
                dispatcher.utter_message(text=text("nothing_to_confirm"))
            return []
        who = await caller(tracker)
        if who is None:
            dispatcher.utter_message(text=text("sign_in_needed"))
            return [SlotSet("pending_change", None)]
        if (pending.get("account_id"), pending.get("email")) != (who.account_id, who.email):
            # The quote was made for someone else (a shared or reused conversation id): never buy it.
            dispatcher.utter_message(text=text("nothing_to_confirm"))
            return [SlotSet("pending_change", None)]
        changes = ChangeSet.from_dict(pending["changes"])
        key = f"{tracker.sender_id}:{pending['nonce']}"
        channel = tracker.get_latest_input_channel() or "chat"
        try:
            result = await call(service().place_order, who.account_id, changes, by=who.email, idempotency_key=key,
                                channel=channel, expected_quote=pending["quote"], clear_cart=pending.get("cart", False))
        except Refused as refusal:
            if refusal.code == "quote_changed":
                dispatcher.utter_message(text=refusal_message(refusal, service().catalog))
                return await show_quote(dispatcher, tracker, who, changes, None, from_cart=pending.get("cart", False))
            await explain_refusal(dispatcher, refusal)
            return [SlotSet("pending_change", None)]
        await self._confirm(dispatcher, who, result, pending)
        return [SlotSet("pending_change", None), SlotSet("last_order", result.invoice_number or "-")]

    async def _confirm(self, dispatcher: CollectingDispatcher, who: Caller, result, pending: dict) -> None:
        summary = await call(service().account_summary, who.account_id)
        rows = [text("order_done")]
        quote = result.quote
        if result.invoice_number:
            amount = format_eur(quote["total"])
            if result.invoice_status == "unpaid":
                rows.append(text("order_invoice_unpaid", invoice=result.invoice_number, amount=amount,
                                 last4=summary["card_last4"]))
            elif float(quote["total"]) > 0:
                rows.append(text("order_invoice_paid", invoice=result.invoice_number, amount=amount,
                                 last4=summary["card_last4"]))
            else:
                rows.append(text("order_invoice_zero", invoice=result.invoice_number))
            rows.append(text("order_email"))
        else:
            rows.append(text("order_scheduled_only"))
        if float(summary["balance"]) > 0:
            rows.append(text("order_balance", amount=format_eur(summary["balance"])))
        before = pending.get("licenses_before") or 0
        after = summary["licenses"]
        holders = summary["license_holders"]
        if after > before:
            added = after - before
            rows.append(text("order_assign_reminder",
                             new_text="la nuova licenza" if added == 1 else f"le {added} nuove licenze"))
            without = [u["email"] for u in summary["users"] if u["email"] not in holders]
            if without:
                rows.append(text("order_assign_candidates", names=join_it(without)))
        pending_total = summary["pending_licenses"]
        if pending_total is not None and pending_total < after:
            rows.append(text("order_reduce_reminder", date=format_date(date.fromisoformat(summary["period_end"])),
                             total=licenses(pending_total), names=join_it(holders) or "nessuno"))
        dispatcher.utter_message(text="\n".join(rows))


def stop_change() -> list[EventType]:
    """Events that end the change form and forget the change being prepared."""
    return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("pending_change", None),
            SlotSet("change_kind", None)] + [SlotSet(slot, None) for slot in FORM_SLOTS]


class ActionDeclineQuote(Action):
    """A no to the quote; "no, intendevo 15" is a correction of the license total, not a no."""

    def name(self) -> str:
        return "action_decline_quote"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        pending = tracker.get_slot("pending_change")
        raw = entity_values(tracker, "quantity")
        number = parse_quantity(raw[0]) if raw else None
        if pending and number and pending["changes"].get("licenses") is not None:
            who = await caller(tracker)
            if who is not None:
                dispatcher.utter_message(text=text("order_correction", total=licenses(number)))
                current = pending.get("licenses_before") or 0
                intro = text("license_intro_set", current=licenses(current), total=number)
                return [SlotSet("license_total", number)] + await show_quote(
                    dispatcher, tracker, who, ChangeSet(licenses=number), intro)
        dispatcher.utter_message(text=text("order_declined"))
        return [SlotSet("pending_change", None)]


class ActionStopChange(Action):
    """A "no" to one of the form's questions: this change stops here, the cart stays as it is."""

    def name(self) -> str:
        return "action_stop_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=text("order_declined"))
        return stop_change()


class ActionAddToCart(Action):
    def name(self) -> str:
        return "action_add_to_cart"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        who = await caller(tracker)
        pending = tracker.get_slot("pending_change")
        if who is None or not pending:
            dispatcher.utter_message(text=text("nothing_to_confirm"))
            return []
        cart = await call(service().add_to_cart, who.account_id, who.email, ChangeSet.from_dict(pending["changes"]))
        dispatcher.utter_message(text="\n".join([text("cart_added"), text("cart_title"),
                                                 *cart_lines(cart, service().catalog), text("cart_next")]))
        return [SlotSet("pending_change", None)]


async def non_empty_cart(who: Caller, dispatcher: CollectingDispatcher) -> ChangeSet | None:
    """The caller's cart, or None after telling them it is empty."""
    cart = await call(service().cart, who.account_id, who.email)
    if cart.is_empty():
        dispatcher.utter_message(text=text("cart_empty"))
        return None
    return cart


class ActionViewCart(SignedInAction):
    def name(self) -> str:
        return "action_view_cart"

    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        cart = await non_empty_cart(who, dispatcher)
        if cart is None:
            return []
        dispatcher.utter_message(text="\n".join([text("cart_title"), *cart_lines(cart, service().catalog),
                                                 text("cart_next")]))
        return []


class ActionRemoveCartItem(SignedInAction):
    def name(self) -> str:
        return "action_remove_cart_item"

    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        cart = await non_empty_cart(who, dispatcher)
        if cart is None:
            return []
        lines = _cart_line_keys(cart)
        chosen = _chosen_line(tracker, lines)
        if chosen is None and len(lines) == 1:
            chosen = lines[0][0]
        if chosen is None:
            dispatcher.utter_message(text=text("cart_which_line"), buttons=[
                {"title": label, "payload": payload} for _key, label, payload in lines])
            return []
        cart = await call(service().save_cart, who.account_id, who.email, cart.without(chosen))
        rows = [text("cart_line_removed")]
        rows += [text("cart_title"), *cart_lines(cart, service().catalog)] if not cart.is_empty() else [
            text("cart_empty")]
        dispatcher.utter_message(text="\n".join(rows))
        return []


def _cart_line_keys(cart: ChangeSet) -> list[tuple[str, str, str]]:
    """(line key for ChangeSet.without, button title, button payload) for each cart line."""
    catalog = service().catalog
    lines = []
    if cart.plan:
        lines.append(("plan", catalog.plan(cart.plan).name, f'/remove_cart_item{{"plan": "{cart.plan}"}}'))
    if cart.licenses is not None:
        lines.append(("licenses", licenses(int(cart.licenses)), "/remove_cart_item{\"quantity\": \"licenze\"}"))
    if cart.cycle:
        lines.append(("cycle", cart.cycle, f'/remove_cart_item{{"billing_cycle": "{cart.cycle}"}}'))
    for sku in [p.sku for p in cart.add_addons] + [old for old, _ in cart.addon_capacity] + list(cart.remove_addons):
        lines.append((sku, catalog.addon(sku).name, f'/remove_cart_item{{"addon": "{sku}"}}'))
    return lines


def _chosen_line(tracker: Tracker, lines: list[tuple[str, str, str]]) -> str | None:
    keys = [key for key, _, _ in lines]
    for addon in entity_values(tracker, "addon"):
        match = [key for key in keys if key == addon or key.startswith(addon + "_")]
        if match:
            return match[0]
    if entity_values(tracker, "plan") and "plan" in keys:
        return "plan"
    if entity_values(tracker, "billing_cycle") and "cycle" in keys:
        return "cycle"
    message = (tracker.latest_message.get("text") or "").lower()
    if ("licenz" in message or entity_values(tracker, "quantity")) and "licenses" in keys:
        return "licenses"
    return None


class ActionQuoteCart(SignedInAction):
    """"Effettua l'ordine": the whole cart in one quote, or the change just quoted."""

    def name(self) -> str:
        return "action_quote_cart"

    async def run_for(self, who: Caller, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
        cart = await call(service().cart, who.account_id, who.email)
        if cart.is_empty():
            if tracker.get_slot("pending_change"):
                return await ActionPlaceOrder().run(dispatcher, tracker, domain)
            dispatcher.utter_message(text=text("cart_empty"))
            return []
        return await show_quote(dispatcher, tracker, who, cart, "\n".join(
            [text("cart_title"), *cart_lines(cart, service().catalog)]), from_cart=True)


class ActionCancel(Action):
    def name(self) -> str:
        return "action_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        who = await caller(tracker)
        if who is not None:
            await call(service().save_cart, who.account_id, who.email, ChangeSet())
        dispatcher.utter_message(text=text("cart_cancelled"))
        return stop_change()
