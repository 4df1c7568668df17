"""The query engine: one in-process DuckDB database per process (connecting costs ~100 ms), a schema
per opened cohort holding its two tables (loaded from Parquet on the first query), shared by every
view derived from that cohort. A query runs as one statement whose ``subjects``/``images`` are CTEs
over the schema's tables keeping only the view's ids."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from .store import Tables

OUTPUTS = ("pandas", "polars", "arrow")
#: id sets up to this size go into a query as parameters; larger ones into a table made once per view
FEW = 16
_names = itertools.count()
_lock = threading.Lock()
_database: tuple[int, duckdb.DuckDBPyConnection] | None = None


def database() -> duckdb.DuckDBPyConnection:
    """This process's DuckDB connection (a forked child makes its own)."""
    global _database
    with _lock:
        if _database is None or _database[0] != os.getpid():
            _database = (os.getpid(), duckdb.connect())
        return _database[1]


@dataclass(frozen=True)
class Restriction:
    """The ``subjects``/``images`` CTEs of a view and their parameters."""

    ctes: str
    params: list[Any]


class Engine:
    """One cohort generation's tables in a schema of :func:`database`, loaded on first use."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self._schema: tuple[int, str] | None = None
        self._lock = threading.Lock()

    @property
    def schema(self) -> str:
        with self._lock:
            if self._schema is None or self._schema[0] != os.getpid():
                name = f"cohort_{next(_names)}"
                cur = database().cursor()
                try:
                    cur.execute(f"CREATE SCHEMA {name}")
                    for table in ("subjects", "images"):
                        self._load(cur, f"{name}.{table}", table)
                finally:
                    cur.close()
                weakref.finalize(self, _drop, os.getpid(), f"SCHEMA {name} CASCADE")
                self._schema = (os.getpid(), name)
            return self._schema[1]

    def _load(self, cur: duckdb.DuckDBPyConnection, target: str, table: str) -> None:
        """Table ``target`` from a local Parquet file (DuckDB reads it), or a remote one fetched once."""
        if isinstance(self.tables.root, str):
            cur.register("fetched", self.tables.read(table))
            cur.execute(f"CREATE TABLE {target} AS SELECT * FROM fetched")
            cur.unregister("fetched")
            return
        cur.execute(f"CREATE TABLE {target} AS SELECT * FROM read_parquet(?)", [str(getattr(self.tables, table))])

    def restriction(self, owner: object, subjects: pa.Array | None, images: pa.Array | None) -> Restriction:
        """The CTEs keeping ``subjects``/``images`` (None: all); id tables are dropped with ``owner``."""
        by_subject: list[str] = []
        by_image: list[str] = []
        params_s: list[Any] = []
        params_i: list[Any] = []
        for column, ids, conditions, params in (("subject_id", subjects, by_subject, params_s),
                                                ("image_id", images, by_image, params_i)):  # fmt: skip
            if ids is not None:
                sql, values = self._condition(owner, column, ids)
                conditions.append(sql)
                params += values
        ctes = (f"subjects AS (SELECT * FROM {self.schema}.subjects{_where(by_subject)}), "
                f"images AS (SELECT * FROM {self.schema}.images{_where(by_subject + by_image)})")  # fmt: skip
        return Restriction(ctes, params_s + params_s + params_i)

    def _condition(self, owner: object, column: str, ids: pa.Array) -> tuple[str, list[Any]]:
        """SQL keeping rows whose ``column`` is in ``ids``: parameters for a few ids, else a table of
        them made once per view (registering Arrow data costs ~10 ms a query)."""
        if len(ids) <= FEW:
            return (f"{column} IN ({', '.join('?' * len(ids))})" if len(ids) else "FALSE"), ids.to_pylist()
        name = f"{self.schema}.ids_{next(_names)}"
        cur = database().cursor()
        try:
            cur.register("new_ids", pa.table({"id": ids}))
            cur.execute(f"CREATE TABLE {name} AS SELECT id FROM new_ids")
        finally:
            cur.close()
        weakref.finalize(owner, _drop, os.getpid(), f"TABLE {name}")
        return f"{column} IN (SELECT id FROM {name})", []

    def run(self, query: str, params: Sequence[Any] | None, restriction: Restriction, output: str) -> Any:
        """``query`` over the rows of ``restriction``, as ``output``."""
        text = query.lstrip()
        with_clause = text[:4].upper() == "WITH" and text[4:5].isspace()
        statement = f"WITH {restriction.ctes}, {text[5:]}" if with_clause else f"WITH {restriction.ctes} {text}"
        cur = database().cursor()
        try:
            return convert(cur.sql(statement, params=[*restriction.params, *(params or ())]), output)
        finally:
            cur.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"tables": self.tables}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["tables"])  # type: ignore[misc]


def _drop(pid: int, what: str) -> None:
    """Drop a schema or id table that nothing uses any more (only in the process that made it)."""
    if pid == os.getpid() and _database is not None and _database[0] == pid:
        with contextlib.suppress(duckdb.Error):
            _database[1].execute(f"DROP {what}")


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def convert(relation: Any, output: str) -> Any:
    """A DuckDB result as a pandas or polars DataFrame, or an Arrow table."""
    if output == "pandas":
        return relation.df()
    if output == "polars":
        return relation.pl()
    if output == "arrow":
        return relation.to_arrow_table()
    raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")
