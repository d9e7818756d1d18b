"""Demo accounts covering every state the assistant must explain (seeded into an empty database)."""
from __future__ import annotations

import datetime as dt

from billing_core.domain.model import AddonPurchase, ChangeSet
from billing_core.service.services import BillingService



def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _march_first(day: dt.date) -> dt.date:
    year = day.year if day >= dt.date(day.year, 3, 1) else day.year - 1
    return dt.date(year, 3, 1)


def seed(service: BillingService) -> list[str]:
    """Create the demo accounts; returns their ids (nothing when the database already has accounts)."""
    with service.uow() as uow:
        if uow.repo.account_ids():
            return []
    today = service.today()

    # Pro monthly: the everyday customer (upgrade to Business, add licenses, add-ons).
    service.create_account("studio-rossi", name="Studio Rossi Associati", plan="pro", cycle="monthly", licenses=10,
                           period_start=_month_start(today), owner="mario.rossi@studiorossi.it",
                           vat_id="IT09876543210", address="Via Garibaldi 12\n10122 Torino (TO)")
    service.add_user("studio-rossi", "giulia.verdi@studiorossi.it", "member", "Giulia Verdi")
    for email in ("mario.rossi@studiorossi.it", "giulia.verdi@studiorossi.it"):
        service.assign("studio-rossi", "mario.rossi@studiorossi.it", email)

    # Business annual with add-ons, a billing admin and assigned licenses.
    service.create_account("acme", name="ACME Italia S.p.A.", plan="business", cycle="annual", licenses=12,
                           period_start=_march_first(today), owner="anna.bianchi@acme.it",
                           vat_id="IT11122233344", address="Corso Buenos Aires 5\n20124 Milano (MI)")
    service.add_user("acme", "luca.neri@acme.it", "billing_admin", "Luca Neri")
    for email, name in (("marco.gallo@acme.it", "Marco Gallo"), ("sara.conti@acme.it", "Sara Conti"),
                        ("elena.riva@acme.it", "Elena Riva")):
        service.add_user("acme", email, "member", name)
    for email in ("anna.bianchi@acme.it", "luca.neri@acme.it", "marco.gallo@acme.it", "sara.conti@acme.it",
                  "elena.riva@acme.it"):
        service.assign("acme", "anna.bianchi@acme.it", email)
    service.place_order("acme", ChangeSet(add_addons=(AddonPurchase("webinar_500"), AddonPurchase("cloud_recording_1tb"))),
                        by="anna.bianchi@acme.it", idempotency_key="demo-seed-acme-addons", channel="demo")
    service.assign("acme", "anna.bianchi@acme.it", "anna.bianchi@acme.it", "webinar_500")

    # An overdue invoice: the card on file declines, so the order's invoice stays unpaid.
    service.create_account("ferri-logistica", name="Ferri Logistica S.r.l.", plan="pro", cycle="monthly", licenses=5,
                           period_start=_month_start(today), owner="paolo.ferri@ferrilogistica.it",
                           vat_id="IT55566677788", address="Via Emilia 200\n40133 Bologna (BO)", card_token="tok_decline")
    service.add_user("ferri-logistica", "irene.sala@ferrilogistica.it", "member", "Irene Sala")
    service.place_order("ferri-logistica", ChangeSet(licenses=7), by="paolo.ferri@ferrilogistica.it",
                        idempotency_key="demo-seed-ferri-licenses", channel="demo")

    # Managed by sales: Enterprise under contract, with its own account executive.
    service.create_account("globex", name="Globex Italia S.p.A.", plan="enterprise", cycle="annual", licenses=250,
                           period_start=_march_first(today), owner="davide.fontana@globex.it",
                           vat_id="IT99988877766", sales_managed_reason="contract",
                           address="Piazza Affari 1\n20123 Milano (MI)")
    service.add_user("globex", "chiara.moretti@globex.it", "member", "Chiara Moretti")

    # A pending downgrade: 15 -> 10 licenses at the end of the month.
    service.create_account("verdi-design", name="Verdi Design", plan="business", cycle="monthly", licenses=15,
                           period_start=_month_start(today), owner="laura.verdi@verdidesign.it",
                           fiscal_code="VRDLRA80A41H501U", address="Via del Corso 10\n00186 Roma (RM)")
    service.add_user("verdi-design", "tommaso.greco@verdidesign.it", "member", "Tommaso Greco")
    service.place_order("verdi-design", ChangeSet(licenses=10), by="laura.verdi@verdidesign.it",
                        idempotency_key="demo-seed-verdi-downgrade", channel="demo")

    # An EU business outside Italy: reverse charge, IVA 0%.
    service.create_account("mueller-gmbh", name="Müller GmbH", plan="business", cycle="monthly", licenses=10,
                           period_start=_month_start(today), owner="jonas.mueller@mueller.de", country="DE",
                           vat_id="DE123456789", address="Hauptstraße 1\n10115 Berlin")
    service.add_user("mueller-gmbh", "lena.schmidt@mueller.de", "member", "Lena Schmidt")
    return ["studio-rossi", "acme", "ferri-logistica", "globex", "verdi-design", "mueller-gmbh"]
