"""Every change flow through the actions: anonymous / member / owner, quotes, orders, refusals, cart."""
from __future__ import annotations

import asyncio
import re
import threading

from sqlalchemy import func, select

from actions.billing import (
    ActionAddToCart,
    ActionAskLicenseTotal,
    ActionCancel,
    ActionDeclineQuote,
    ActionPlaceOrder,
    ActionQuoteCart,
    ActionQuoteChange,
    ActionRemoveCartItem,
    ActionStartChange,
    ActionStopChange,
    ActionViewCart,
    ValidateChangeForm,
)
from billing_core.adapters import orm
from action_chat import Chat

OWNER = "mario.rossi@studiorossi.it"  # studio-rossi: Pro monthly, 10 licenses, 2 assigned
MEMBER = "giulia.verdi@studiorossi.it"
ACME_OWNER = "anna.bianchi@acme.it"  # acme: Business annual, 12 licenses, 5 assigned, add-ons
EURO = re.compile(r"-?\d{1,3}(\.\d{3})*,\d{2} €")


def orders(service) -> int:
    with service.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(orm.OrderRow)).scalar_one()


def change(chat: Chat, text: str, intent: str, entities=None) -> Chat:
    """User asks for a change: start it, run the form's validation, quote it."""
    chat.say(text, intent, entities).run(ActionStartChange())
    if chat.slots.get("can_change"):
        chat.validate_form(ValidateChangeForm())
        chat.run(ActionQuoteChange())
    return chat


def test_anonymous_user_is_told_to_sign_in_and_nothing_is_quoted(billing):
    chat = Chat(billing, None)
    chat.say("aggiungi 2 licenze", "add_licenses", {"quantity": "2"}).run(ActionStartChange())
    assert chat.slots["can_change"] is False
    assert "accedere" in chat.text
    chat.say("sì", "affirm").run(ActionPlaceOrder())
    assert "Non c'è nessun ordine" in chat.text and orders(billing) == 3  # the seed's three orders only


def test_member_can_ask_but_not_buy_and_is_told_who_can(billing):
    chat = Chat(billing, MEMBER)
    chat.say("aggiungi 2 licenze", "add_licenses", {"quantity": "2"}).run(ActionStartChange())
    assert chat.slots["can_change"] is False
    assert "Solo il proprietario" in chat.text and OWNER in chat.text


def test_owner_adds_licenses_confirmed_as_a_total_and_buys_once(billing):
    chat = change(Chat(billing, OWNER), "mi servono altre due licenze", "add_licenses", {"quantity": "due"})
    assert chat.slots["license_total"] == 12
    assert "Hai 10 licenze; con 2 in più il totale sarà 12." in chat.text
    assert "Confermi 12 licenze in totale?" in chat.text
    assert [b["payload"] for b in chat.buttons] == ["/affirm", "/add_to_cart", "/deny"]
    assert "5/30 giorni" in chat.text and EURO.search(chat.text)
    assert "Prossimo rinnovo a prezzo pieno: 1 dicembre 2026" in chat.text
    pending = dict(chat.slots["pending_change"])

    before = orders(billing)
    chat.say("sì, procedi", "affirm").run(ActionPlaceOrder())
    assert "Fatto! Ordine confermato." in chat.text
    assert re.search(r"Fattura n\. 2026/\d{6}: addebitati 5,69 €", chat.text)
    assert "e-mail di conferma con la fattura in PDF" in chat.text
    assert "le 2 nuove licenze" in chat.text and "Gestione utenti" in chat.text
    assert billing.account_summary("studio-rossi")["licenses"] == 12 and orders(billing) == before + 1

    chat.say("sì", "affirm").run(ActionPlaceOrder())  # a double click
    assert "già stato effettuato" in chat.text and orders(billing) == before + 1
    chat.slots["pending_change"] = pending  # a channel retry of the first "sì"
    chat.say("sì, procedi", "affirm").run(ActionPlaceOrder())
    assert orders(billing) == before + 1 and billing.account_summary("studio-rossi")["licenses"] == 12


def test_form_asks_the_number_with_the_current_total(billing):
    chat = Chat(billing, OWNER)
    chat.say("vorrei modificare il numero di licenze", "change_licenses").run(ActionStartChange())
    chat.validate_form(ValidateChangeForm())
    assert chat.slots.get("license_total") is None
    chat.run(ActionAskLicenseTotal())
    assert chat.text == "Hai 10 licenze. Quante licenze vuoi in totale?"
    chat.say("ne voglio dodici in totale", "inform", {"quantity": "dodici"})
    chat.validate_form(ValidateChangeForm())
    assert chat.slots["license_total"] == 12


def test_removing_licenses_is_scheduled_without_refund(billing):
    chat = change(Chat(billing, ACME_OWNER), "togline 2", "remove_licenses", {"quantity": "2"})
    assert "Hai 12 licenze; con 2 in meno il totale sarà 10." in chat.text
    assert "Nessun addebito ora." in chat.text and "nessun rimborso" in chat.text
    chat.say("sì", "affirm").run(ActionPlaceOrder())
    assert "nessun addebito ora" in chat.text.lower()
    assert "avrai 10 licenze" in chat.text
    summary = billing.account_summary("acme")
    assert (summary["licenses"], summary["pending_licenses"]) == (12, 10)


def test_fewer_licenses_than_assigned_names_the_holders(billing):
    chat = change(Chat(billing, OWNER), "portale a 1", "set_licenses", {"quantity": "1"})
    assert "giulia.verdi@studiorossi.it" in chat.text and "mario.rossi@studiorossi.it" in chat.text
    assert "Gestione utenti" in chat.text and chat.slots["pending_change"] is None
    assert '/unassign_license{"email": "giulia.verdi@studiorossi.it"}' in [b["payload"] for b in chat.buttons]


def test_zero_or_nonsense_totals_are_refused_in_italian(billing):
    chat = change(Chat(billing, OWNER), "togli 15 licenze", "remove_licenses", {"quantity": "15"})
    assert "almeno 1" in chat.text and chat.slots.get("license_total") is None
    chat = change(Chat(billing, OWNER), "portale a tante", "set_licenses", {"quantity": "tante"})
    assert "Non ho capito il numero" in chat.text


def test_business_minimum_offers_ten_licenses_or_large_meeting(billing):
    billing.create_account("piccola", plan="pro", cycle="monthly", licenses=5, period_start=billing.today(),
                           owner="capo@piccola.it")
    chat = change(Chat(billing, "capo@piccola.it"), "voglio passare a business", "upgrade_plan", {"plan": "business"})
    assert "almeno 10 licenze" in chat.text and "Large Meeting" in chat.text
    payloads = [b["payload"] for b in chat.buttons]
    assert '/upgrade_plan{"plan": "business", "quantity": "10"}' in payloads
    chat = change(chat, "ok 10", "upgrade_plan", {"plan": "business", "quantity": "10"})
    assert "Business, 10 licenze (mensile)" in chat.text and "Confermi 10 licenze in totale?" in chat.text


def test_upgrade_to_business_quote_has_credit_and_charge(billing):
    chat = change(Chat(billing, OWNER), "passiamo al piano business", "upgrade_plan", {"plan": "business"})
    assert "Pro, 10 licenze (mensile), credito per i giorni non usati" in chat.text
    assert "-23,32 €" in chat.text and "36,65 €" in chat.text and "IVA 22%: 2,93 €" in chat.text
    assert "Totale da pagare ora: 16,26 €" in chat.text


def test_enterprise_goes_to_the_account_executive_once(billing):
    chat = Chat(billing, OWNER)
    chat.say("upgrade a enterprise", "upgrade_plan", {"plan": "enterprise"}).run(ActionStartChange())
    assert chat.slots["can_change"] is False
    assert "Chiara Bianchi" in chat.text and "24 ore" in chat.text
    chat.say("upgrade a enterprise", "upgrade_plan", {"plan": "enterprise"}).run(ActionStartChange())
    assert "già stata inoltrata" in chat.text
    assert len(billing.notifier.sent) == 1 and billing.notifier.sent[0].reason == "enterprise"


def test_annual_to_monthly_leaves_the_credit_on_the_account(billing):
    chat = change(Chat(billing, ACME_OWNER), "preferisco pagare mese per mese", "change_billing_cycle",
                  {"billing_cycle": "monthly"})
    assert "restano come credito sul tuo account" in chat.text
    chat.say("confermo", "affirm").run(ActionPlaceOrder())
    assert "Credito disponibile sul tuo account" in chat.text
    assert billing.account_summary("acme")["cycle"] == "monthly"


def test_buy_addon_and_upgrade_its_capacity(billing):
    chat = change(Chat(billing, OWNER), "vorrei comprare webinar 500", "buy_addon",
                  {"addon": "webinar", "capacity": "500"})
    assert "Webinar 500" in chat.text
    chat.say("sì", "affirm").run(ActionPlaceOrder())
    assert "Fatto!" in chat.text
    chat = change(chat, "porta il webinar da 500 a 1000 partecipanti", "upgrade_addon",
                  [{"entity": "addon", "value": "webinar"}, {"entity": "capacity", "value": "500"},
                   {"entity": "capacity", "value": "1000"}])
    assert "Webinar 500" in chat.text and "Webinar 1000" in chat.text and "credito" in chat.text


def test_annual_addon_on_monthly_plan_is_refused_with_the_rule(billing):
    chat = change(Chat(billing, OWNER), "aggiungi large meeting 500 annuale", "buy_addon",
                  {"addon": "large_meeting", "capacity": "500", "billing_cycle": "annual"})
    assert "richiede un piano annuale" in chat.text


def test_no_with_a_number_is_a_correction(billing):
    chat = change(Chat(billing, OWNER), "aggiungi 2 licenze", "add_licenses", {"quantity": "2"})
    chat.say("no, intendevo 15", "deny", {"quantity": "15"}).run(ActionDeclineQuote())
    assert "Confermi 15 licenze in totale?" in chat.text
    chat.say("no", "deny").run(ActionDeclineQuote())
    assert "non ho acquistato nulla" in chat.text and chat.slots["pending_change"] is None


def test_a_downgrade_on_the_lowest_plan_says_what_the_account_has(billing):
    chat = change(Chat(billing, OWNER), "abbassate il nostro abbonamento di un gradino", "downgrade_plan")
    assert "Non c'è niente da cambiare: hai già il piano Pro con 10 licenze, fatturazione mensile." in chat.text
    assert chat.slots.get("pending_change") is None


def test_no_to_the_forms_question_stops_the_change_and_keeps_the_cart(billing):
    chat = change(Chat(billing, OWNER), "aggiungi 2 licenze", "add_licenses", {"quantity": "2"})
    chat.say("aggiungi al carrello", "add_to_cart").run(ActionAddToCart())
    chat.say("vorrei un piano più alto", "upgrade_plan").run(ActionStartChange())
    chat.active_loop = {"name": "change_form"}
    chat.say("no", "deny").run(ActionStopChange())
    assert "non ho acquistato nulla" in chat.text
    assert chat.active_loop == {} and chat.slots["change_kind"] is None and chat.slots["requested_slot"] is None
    chat.say("cosa c'è nel carrello?", "view_cart").run(ActionViewCart())
    assert "12 licenze in totale" in chat.text


def test_cart_collects_changes_shows_them_and_orders_them_together(billing):
    chat = change(Chat(billing, OWNER), "aggiungi 2 licenze", "add_licenses", {"quantity": "2"})
    chat.say("aggiungi al carrello", "add_to_cart").run(ActionAddToCart())
    assert "licenze: 12 licenze in totale" in chat.text
    chat = change(chat, "e cloud recording", "buy_addon", {"addon": "cloud_recording"})
    chat.say("aggiungi al carrello", "add_to_cart").run(ActionAddToCart())
    chat.say("cosa c'è nel carrello?", "view_cart").run(ActionViewCart())
    assert "12 licenze in totale" in chat.text and "Cloud Recording 1 TB" in chat.text
    chat.say("togli il cloud recording", "remove_cart_item", {"addon": "cloud_recording"}).run(ActionRemoveCartItem())
    assert "Cloud Recording" not in chat.text.split("Ho tolto")[1]
    chat = change(chat, "e cloud recording", "buy_addon", {"addon": "cloud_recording"})
    chat.say("aggiungi al carrello", "add_to_cart").run(ActionAddToCart())
    chat.say("effettua l'ordine", "place_order").run(ActionQuoteCart())
    assert "Nel carrello:" in chat.text and [b["payload"] for b in chat.buttons] == ["/affirm", "/deny"]
    chat.say("sì", "affirm").run(ActionPlaceOrder())
    summary = billing.account_summary("studio-rossi")
    assert summary["licenses"] == 12 and [a["sku"] for a in summary["addons"]] == ["cloud_recording_1tb"]
    assert billing.cart("studio-rossi", OWNER).is_empty()


def test_cancel_empties_the_cart_and_buys_nothing(billing):
    chat = change(Chat(billing, OWNER), "aggiungi 2 licenze", "add_licenses", {"quantity": "2"})
    chat.say("aggiungi al carrello", "add_to_cart").run(ActionAddToCart())
    before = orders(billing)
    chat.say("annulla", "cancel").run(ActionCancel())
    assert "carrello è vuoto" in chat.text and billing.cart("studio-rossi", OWNER).is_empty()
    assert orders(billing) == before and chat.slots["pending_change"] is None


def test_blocked_accounts_explain_why_before_asking_anything(billing):
    chat = Chat(billing, "paolo.ferri@ferrilogistica.it")
    chat.say("aggiungi una licenza", "add_licenses", {"quantity": "una"}).run(ActionStartChange())
    assert chat.slots["can_change"] is False
    assert "fatture non pagate" in chat.text and "2026/" in chat.text and "Cronologia fatture" in chat.text


def test_billing_calls_run_off_the_event_loop(billing):
    """Actions hand blocking database work to a thread, so one slow query never stalls the server."""
    seen = {}
    original = billing.account_summary

    def spy(account_id):
        seen["thread"] = threading.get_ident()
        return original(account_id)

    billing.account_summary = spy
    chat = Chat(billing, OWNER).say("quante licenze?", "change_licenses")

    async def run_and_record_loop_thread():
        seen["loop"] = threading.get_ident()
        from rasa_sdk.executor import CollectingDispatcher

        await ActionAskLicenseTotal().run(CollectingDispatcher(), chat.tracker(), {})

    asyncio.run(run_and_record_loop_thread())
    assert seen["thread"] != seen["loop"]
