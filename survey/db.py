"""Database plumbing: the declarative Base, the engine and the per-request session.

Plain SQLAlchemy 2.x (no Flask-SQLAlchemy): `init_app` builds one engine per app and a
sessionmaker; `get_session()` hands out one session per application context and closes it on
teardown. The CLI and the web both go through `get_session()`, so services never build their own.
"""

from __future__ import annotations

import weakref
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import CursorResult, Executable, MetaData, Table, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names, so Alembic migrations name the same things on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The `Table` a model is mapped to (SQLAlchemy types `__table__` as any FromClause)."""
    table = model.__table__
    assert isinstance(table, Table), f"{model.__name__} is mapped to a table"
    return table


def rows_affected(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE (without RETURNING) in `session`; how many rows it matched.

    `Session.execute` is typed to return a plain `Result`; for DML it is a `CursorResult`,
    the one that carries `rowcount`.
    """
    result = session.execute(statement)
    assert isinstance(result, CursorResult), "DML without RETURNING gives a CursorResult"
    return result.rowcount


def make_engine(url: str) -> Engine:
    """Create an engine with the settings this application relies on for `url`."""
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        # Writers wait for each other instead of failing with "database is locked".
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    _ENGINES.add(engine)
    return engine


# Every engine of this process, so that a command can close their connections before it ends.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def dispose_engines() -> None:
    """Close every pooled connection of this process (the database sees a clean goodbye)."""
    for engine in list(_ENGINES):
        engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # Deleted rows are overwritten with zeros, not left in free pages: a purged address or a
    # mixed response's old place must not stay readable in a copy of the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def init_app(app: Flask) -> None:
    """Attach the engine and session factory to `app` and close sessions on teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["db_engine"]


def get_session() -> Session:
    """The session of the current application context (created on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
