"""Alembic environment: the URL comes from the caller (billing db upgrade) or BILLING_DATABASE_URL."""
from alembic import context

from billing_core.adapters.database import make_engine
from billing_core.adapters.orm import Base
from billing_core.config import database_url

config = context.config
url = config.get_main_option("sqlalchemy.url") or database_url()

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = make_engine(url)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()
