"""Unit of work: one database transaction per use case; nothing is kept unless committed."""
from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from billing_core.adapters.repository import BillingRepository


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker) -> None:
        self.session_factory = session_factory

    def __enter__(self) -> "UnitOfWork":
        self.session = self.session_factory()
        self.repo = BillingRepository(self.session)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
