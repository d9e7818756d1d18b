"""Unit of work: one database transaction per use case; nothing is kept unless committed."""
from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from billing_core.adapters.database import READ_ONLY
from billing_core.adapters.repository import BillingRepository


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker, *, read_only: bool = False) -> None:
        self.session_factory = session_factory
        self.read_only = read_only

    def __enter__(self) -> "UnitOfWork":
        self.session = self.session_factory()
        if self.read_only:
            self.session.connection(execution_options={READ_ONLY: True})
        self.repo = BillingRepository(self.session)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
