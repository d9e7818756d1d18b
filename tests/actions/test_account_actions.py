"""Account answers, why editing is disabled, assignments, handoff and low-confidence fallback."""
from __future__ import annotations

from action_chat import Chat

from actions.account import (
    ActionAssignLicense,
    ActionCheckInvoices,
    ActionCheckPlan,
    ActionExplainEditBlocked,
    ActionUnassignLicense,
)
from actions.fallback import ActionFallbackButtons
from actions.handoff import ActionHandoff

ACME_OWNER = "anna.bianchi@acme.it"
ENGLISH = ("None", "Error", "error", "Traceback", "invoice", "license ")


def italian_only(text: str) -> None:
    for word in ENGLISH:
        assert word not in text, f"English or internal text leaked: {word!r} in {text!r}"


def test_check_plan_describes_the_account(billing):
    chat = Chat(billing, ACME_OWNER).say("che piano ho?", "check_plan")
    chat.run(ActionCheckPlan())
    assert "Hai il piano Business annuale con 12 licenze (5 assegnate)." in chat.text
    assert "rinnovo il 1 marzo 2027" in chat.text
    assert "Webinar 500 (annuale, 1)" in chat.text and "Cloud Recording 1 TB" in chat.text
    italian_only(chat.text)


def test_check_plan_for_anonymous_gives_no_account_data(billing):
    chat = Chat(billing, None).say("che piano ho?", "check_plan")
    chat.run(ActionCheckPlan())
    assert "accedere" in chat.text and "Business" not in chat.text


def test_forged_identity_of_another_account_is_anonymous(billing):
    chat = Chat(billing, None).say("che piano ho?", "check_plan")
    chat.message["metadata"] = {"user": {"email": ACME_OWNER, "account_id": "studio-rossi", "role": "owner"}}
    chat.run(ActionCheckPlan())
    assert "accedere" in chat.text


def test_invoices_list_with_unpaid_highlighted(billing):
    chat = Chat(billing, "paolo.ferri@ferrilogistica.it").say("ho fatture in sospeso?", "check_invoices")
    chat.run(ActionCheckInvoices())
    assert "DA PAGARE (scaduta il 26 novembre 2026)" in chat.text and "Cronologia fatture" in chat.text
    italian_only(chat.text)


def test_edit_disabled_reasons_from_the_real_state(billing):
    chat = Chat(billing, "paolo.ferri@ferrilogistica.it").say("perché non posso modificare il piano?",
                                                                "ask_edit_disabled")
    chat.run(ActionExplainEditBlocked())
    assert "fatture non pagate" in chat.text and "5,69 €" in chat.text and "26 novembre 2026" in chat.text

    chat = Chat(billing, "laura.verdi@verdidesign.it").say("il pulsante è disattivato", "ask_edit_disabled")
    chat.run(ActionExplainEditBlocked())
    assert "riduzione da 15 a 10 licenze dal 1 dicembre 2026" in chat.text

    chat = Chat(billing, "davide.fontana@globex.it").say("perché non posso modificare?", "ask_edit_disabled")
    chat.run(ActionExplainEditBlocked())
    assert "team commerciale" in chat.text and "Chiara Bianchi" in chat.text
    assert any(b["payload"] == "/request_human" for b in chat.buttons)

    chat = Chat(billing, "giulia.verdi@studiorossi.it").say("perché non posso?", "ask_edit_disabled")
    chat.run(ActionExplainEditBlocked())
    assert "il tuo ruolo è membro" in chat.text and "mario.rossi@studiorossi.it" in chat.text

    chat = Chat(billing, "mario.rossi@studiorossi.it").say("perché non posso?", "ask_edit_disabled")
    chat.run(ActionExplainEditBlocked())
    assert "la modifica in self-service è attiva" in chat.text


def test_assign_and_unassign_licenses_by_email(billing):
    billing.add_user("acme", "nuovo@acme.it", "member", "Nuovo")
    chat = Chat(billing, ACME_OWNER).say("assegna una licenza a nuovo@acme.it", "assign_license",
                                         {"email": "nuovo@acme.it"})
    chat.run(ActionAssignLicense())
    assert "ho assegnato una licenza a nuovo@acme.it" in chat.text and "Licenze libere: 6." in chat.text
    chat.say("assegna una licenza a nuovo@acme.it", "assign_license", {"email": "nuovo@acme.it"})
    chat.run(ActionAssignLicense())
    assert "ha già una licenza" in chat.text
    chat.say("togli la licenza a nuovo@acme.it", "unassign_license", {"email": "nuovo@acme.it"})
    chat.run(ActionUnassignLicense())
    assert "ho tolto una licenza a nuovo@acme.it" in chat.text
    chat.say("assegna una licenza a sconosciuto@altro.it", "assign_license", {"email": "sconosciuto@altro.it"})
    chat.run(ActionAssignLicense())
    assert "non è un utente del tuo account" in chat.text
    chat.say("assegna una licenza", "assign_license").run(ActionAssignLicense())
    assert "indirizzo e-mail" in chat.text


def test_handoff_is_stored_with_summary_and_not_repeated(billing):
    chat = Chat(billing, "davide.fontana@globex.it")
    chat.say("ciao", "greet")
    chat.say("voglio parlare con il mio account executive", "request_human").run(ActionHandoff())
    assert "Chiara Bianchi" in chat.text and "24 ore lavorative" in chat.text
    [summary] = billing.notifier.sent
    assert summary.reason == "sales_managed" and summary.account_id == "globex"
    assert "Utente: ciao" in summary.last_messages
    chat.say("allora? voglio una persona", "request_human").run(ActionHandoff())
    assert "già stata inoltrata" in chat.text and len(billing.notifier.sent) == 1


def test_handoff_for_anonymous_explains_how_to_reach_sales(billing):
    chat = Chat(billing, None).say("voglio parlare con una persona", "request_human")
    chat.run(ActionHandoff())
    assert "accedi" in chat.text and billing.notifier.sent == []


def test_low_confidence_offers_two_likeliest_intents_then_a_person(billing):
    ranking = [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "add_licenses", "confidence": 0.35},
               {"name": "remove_licenses", "confidence": 0.3}, {"name": "check_plan", "confidence": 0.1}]
    chat = Chat(billing, None).say("licenze boh", "nlu_fallback", ranking=ranking)
    chat.run(ActionFallbackButtons())
    assert [b["payload"] for b in chat.buttons] == ["/add_licenses", "/remove_licenses"]
    assert [b["title"] for b in chat.buttons] == ["Aggiungere licenze", "Togliere licenze"]
    chat.say("mah non so", "nlu_fallback", ranking=ranking).run(ActionFallbackButtons())
    assert [b["payload"] for b in chat.buttons][0] == "/request_human"


def test_unsure_only_between_thanks_and_goodbye_answers_the_likeliest(billing):
    ranking = [{"name": "nlu_fallback", "confidence": 0.6}, {"name": "goodbye", "confidence": 0.42},
               {"name": "thank", "confidence": 0.37}, {"name": "downgrade_plan", "confidence": 0.001}]
    chat = Chat(billing, None).say("grazie, ciao", "nlu_fallback", ranking=ranking)
    events = chat.run(ActionFallbackButtons())
    assert [r.get("response") for r in chat.replies] == ["utter_goodbye"] and chat.buttons == []
    assert [e["event"] for e in events] == ["rewind"]
    chat.say("grazie mille, a presto", "nlu_fallback", ranking=ranking).run(ActionFallbackButtons())
    assert [r.get("response") for r in chat.replies] == ["utter_goodbye"]
    # answered small talk is not a message the assistant failed to understand
    unclear = [{"name": "nlu_fallback", "confidence": 0.6}, {"name": "add_licenses", "confidence": 0.35},
               {"name": "remove_licenses", "confidence": 0.3}]
    chat.say("licenze boh", "nlu_fallback", ranking=unclear).run(ActionFallbackButtons())
    assert [b["payload"] for b in chat.buttons] == ["/add_licenses", "/remove_licenses"]


def test_unlikely_intents_are_never_offered_as_buttons(billing):
    ranking = [{"name": "nlu_fallback", "confidence": 0.6}, {"name": "out_of_scope", "confidence": 0.55},
               {"name": "check_plan", "confidence": 0.4}, {"name": "downgrade_plan", "confidence": 0.01},
               {"name": "request_human", "confidence": 0.01}]
    chat = Chat(billing, None).say("boh", "nlu_fallback", ranking=ranking)
    chat.run(ActionFallbackButtons())
    assert [b["payload"] for b in chat.buttons] == ["/check_plan"] and chat.text.endswith("Intendevi questo?")


def test_form_questions_offer_choices(billing):
    from actions.asks import ActionAskAddon, ActionAskCapacity

    chat = Chat(billing, ACME_OWNER).say("vorrei un add-on", "buy_addon")
    chat.run(ActionAskAddon())
    assert chat.text == "Quale add-on ti interessa?"
    assert [b["payload"] for b in chat.buttons][0] == '/inform{"addon": "webinar"}'
    chat.run(ActionAskCapacity())
    assert [b["title"] for b in chat.buttons][-2:] == ["500", "1000"]
