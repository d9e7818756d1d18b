"""Wires the service to its adapters from the environment (or to the fakes a test passes in)."""
from __future__ import annotations

from functools import lru_cache

from billing_core import config
from billing_core.adapters.database import make_engine, make_session_factory
from billing_core.adapters.mailer import Mailer, mailer_from_env
from billing_core.adapters.notifier import Notifier, notifier_from_env
from billing_core.adapters.payment import PaymentGateway, SimulatedCardGateway
from billing_core.domain.catalog import Catalog, load_catalog
from billing_core.service.services import BillingService


@lru_cache(maxsize=8)
def _session_factory(url: str):
    return make_session_factory(make_engine(url))


def bootstrap(database_url: str | None = None, *, catalog: Catalog | None = None,
              gateway: PaymentGateway | None = None, mailer: Mailer | None = None,
              notifier: Notifier | None = None) -> BillingService:
    catalog = catalog or load_catalog()
    mailer = mailer or mailer_from_env(config.var_dir())
    return BillingService(
        session_factory=_session_factory(database_url or config.database_url()),
        catalog=catalog,
        gateway=gateway or SimulatedCardGateway(),
        mailer=mailer,
        notifier=notifier or notifier_from_env(mailer, catalog.seller.email),
        sender=catalog.seller.email or "",
    )
