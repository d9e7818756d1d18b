"""Drive the custom actions like the action server does, over a real (SQLite) billing database."""
from __future__ import annotations

import pytest

from actions import runtime
from billing_core.adapters.mailer import RecordingMailer
from billing_core.adapters.notifier import RecordingNotifier
from billing_core.adapters.payment import SimulatedCardGateway
from billing_core.demo import seed
from billing_core.service.bootstrap import bootstrap


@pytest.fixture
def billing(sqlite_url, clock, catalog):
    service = bootstrap(sqlite_url, catalog=catalog, gateway=SimulatedCardGateway(), mailer=RecordingMailer(),
                        notifier=RecordingNotifier())
    service.now = clock
    seed(service)
    runtime.use_service(service)
    yield service
    runtime.use_service(None)
