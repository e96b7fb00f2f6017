"""Alembic environment: migrates the engine the hub hands over (hub.core.migrate), or HUB_DATABASE_URL."""

from alembic import context

from hub.core.db import make_engine
from hub.core.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Write hub.core.models.UTCDateTime as a plain timezone-aware DateTime, so migrations never
    import the models module (a migration must keep working when models change)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from hub.core.config import load_settings

        engine = make_engine(load_settings().database_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
