"""The two SQL dialects the store speaks, and the little that differs between them.

Repositories write SQL once in the common subset with `?` placeholders (SQLite's qmark
style); `adapt_sql` turns them into psycopg's `%s` for PostgreSQL. `ON CONFLICT ... DO
NOTHING/UPDATE` and `RETURNING` work in both (SQLite >= 3.35)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgresql"


@lru_cache(maxsize=512)
def adapt_sql(sql: str, dialect: Dialect) -> str:
    """`?` -> `%s` for psycopg; a literal `%` must then be doubled. Our SQL never has `?`
    inside string literals, so a plain replace is exact."""
    if dialect is Dialect.SQLITE:
        return sql
    return sql.replace("%", "%%").replace("?", "%s")


def skip_locked(dialect: Dialect) -> str:
    """Row-lock clause for queue claims. PostgreSQL lets concurrent claimers skip rows
    another transaction holds; SQLite needs none because BEGIN IMMEDIATE already makes
    the writer exclusive."""
    return " FOR UPDATE SKIP LOCKED" if dialect is Dialect.POSTGRES else ""
