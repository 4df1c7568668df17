"""One in-process DuckDB database per (process, table generation): the tables are loaded once from
Parquet, and each query gets its own cursor whose ``subjects`` and ``images`` are the view's rows."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from .store import Tables

OUTPUTS = ("pandas", "polars", "arrow")
_engines: dict[tuple[int, Tables], duckdb.DuckDBPyConnection] = {}
_lock = threading.Lock()


def connection(tables: Tables) -> duckdb.DuckDBPyConnection:
    """The process's database for ``tables`` (a forked child opens its own)."""
    key = (os.getpid(), tables)
    with _lock:
        con = _engines.get(key)
        if con is None:
            con = duckdb.connect()
            con.execute("CREATE TABLE _all_subjects AS SELECT * FROM read_parquet(?)", [str(tables.subjects)])
            con.execute("CREATE TABLE _all_images AS SELECT * FROM read_parquet(?)", [str(tables.images)])
            _engines[key] = con
    return con


@contextmanager
def restricted(tables: Tables, subjects: pa.Array | None, images: pa.Array | None) -> Iterator[Any]:
    """A cursor where ``subjects``/``images`` hold only the given ids (None: all of them)."""
    cur = connection(tables).cursor()
    try:
        by_subject = []
        if subjects is not None:
            cur.register("_view_s", pa.table({"id": subjects}))
            by_subject.append("subject_id IN (SELECT id FROM _view_s)")
        by_image = list(by_subject)
        if images is not None:
            cur.register("_view_i", pa.table({"id": images}))
            by_image.append("image_id IN (SELECT id FROM _view_i)")
        cur.execute(f"CREATE TEMP VIEW subjects AS SELECT * FROM _all_subjects{_where(by_subject)}")
        cur.execute(f"CREATE TEMP VIEW images AS SELECT * FROM _all_images{_where(by_image)}")
        yield cur
    finally:
        cur.close()


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
