"""Alembic environment: runs on the connection handed in by store.db.upgrade."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from bodyworn.store.db import in_models

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=config.attributes.get("target_metadata"),
            render_as_batch=True,
            compare_type=True,
            include_name=in_models,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.begin() as conn:
        context.configure(
            connection=conn,
            target_metadata=config.attributes.get("target_metadata"),
            render_as_batch=True,
            compare_type=True,
            include_name=in_models,
        )
        with context.begin_transaction():
            context.run_migrations()


run()
