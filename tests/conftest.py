"""Shared fixtures: a migrated billing database per test, on SQLite and (when configured) PostgreSQL.

`make test` starts a throw-away PostgreSQL server and sets BILLING_TEST_POSTGRES_URL, and sets
BILLING_TEST_REQUIRE_POSTGRES=1 so a missing server fails the run instead of skipping.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from billing_core.adapters.mailer import RecordingMailer
from billing_core.adapters.migrations import upgrade
from billing_core.adapters.notifier import RecordingNotifier
from billing_core.adapters.payment import SimulatedCardGateway
from billing_core.clock import ROME
from billing_core.domain.catalog import load_catalog
from billing_core.service.bootstrap import bootstrap

POSTGRES_URL = os.environ.get("BILLING_TEST_POSTGRES_URL")
DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> str:
    if not POSTGRES_URL:
        if os.environ.get("BILLING_TEST_REQUIRE_POSTGRES"):
            pytest.fail("BILLING_TEST_POSTGRES_URL is not set but PostgreSQL tests are required")
        pytest.skip("no PostgreSQL server configured (make test starts one)")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS billing_template"))
        conn.execute(text("CREATE DATABASE billing_template"))
    admin.dispose()
    url = make_url(POSTGRES_URL).set(database="billing_template")
    upgrade(url.render_as_string(hide_password=False))
    return "billing_template"


def fresh_database(kind: str, request, tmp_path: Path) -> str:
    """A new, migrated, empty billing database; returns its URL."""
    if kind == "sqlite":
        path = tmp_path / "billing.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    template = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path) -> str:
    return fresh_database(request.param, request, tmp_path)


@pytest.fixture
def sqlite_url(request, tmp_path) -> str:
    return fresh_database("sqlite", request, tmp_path)


class FixedClock:
    """The injectable clock, set by a test: ``clock.set(2026, 11, 26)``."""

    def __init__(self) -> None:
        self.value = dt.datetime(2026, 11, 26, 10, 0, tzinfo=ROME)

    def set(self, year: int, month: int, day: int) -> None:
        self.value = dt.datetime(year, month, day, 10, 0, tzinfo=ROME)

    def __call__(self) -> dt.datetime:
        return self.value


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def catalog():
    return load_catalog()


@pytest.fixture
def service(database_url, clock, catalog):
    built = bootstrap(database_url, catalog=catalog, gateway=SimulatedCardGateway(), mailer=RecordingMailer(),
                      notifier=RecordingNotifier())
    built.now = clock
    return built
