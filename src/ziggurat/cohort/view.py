"""Lazy, immutable views of a cohort: a set of subject ids and image ids that the SQL is restricted to.

Every selection (``query``, ``loc``, ``iloc``, ``sel``, ``head``, ``sample``, ``split``, set
operations) returns a new :class:`View`; none reads pixels. The same SQL runs on a stored cohort and on
a view, because a view only changes what the ``subjects`` and ``images`` relations hold. A view
pickles as its cohort's folder plus its ids, compressed (what data-loader workers need).
"""

from __future__ import annotations

import os
import shutil
import zlib
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import numpy as np
import pyarrow as pa

from ..io.atomic import atomic_path
from ..io.locations import configure, is_url
from ..io.upload import staged
from ..model.image import Image, open_image
from .engine import Engine, Restriction
from .store import CohortError, Root, Tables, cohort_root, local_root, locate, publish, read_manifest, write_tables

Ids: TypeAlias = "pa.Array | None"


class View:
    """Subjects and images of one cohort generation, restricted to ``subject_ids``/``image_ids``
    (None: no restriction). Build views from a :class:`Cohort`, never directly."""

    def __init__(self, engine: Engine, subject_ids: Ids = None, image_ids: Ids = None) -> None:
        self._engine = engine
        self._s = subject_ids
        self._i = image_ids

    # -- SQL -------------------------------------------------------------------------------
    def sql(self, query: str, output: str = "pandas", params: Sequence[Any] | None = None) -> Any:
        """Run ``query`` (DuckDB SQL over ``subjects`` and ``images``, this view's rows only) and return
        the result as ``output``: "pandas", "polars" or "arrow"."""
        return self._engine.run(query, params, self._restriction(), output)

    def _restriction(self) -> Restriction:
        """This view's CTEs, made on first use in each process (id tables live in its database)."""
        made = self.__dict__.get("_restricted")
        if made is None or made[0] != os.getpid():
            made = self.__dict__["_restricted"] = (os.getpid(), self._engine.restriction(self, self._s, self._i))
        return made[1]

    def _pairs(self, query: str, params: Sequence[Any] | None = None) -> tuple[pa.Array, pa.Array]:
        """(subject ids, non-null image ids) that a query's ``s``/``i`` columns return."""
        table = self.sql(query, "arrow", params)
        subjects = table.column("s").unique()
        images = table.column("i").drop_null().unique()
        return subjects, images

    def query(self, where: str) -> View:
        """The subjects and images matching ``where``, a SQL condition over subjects joined to their
        images (aliases ``s`` and ``i``): ``cohort.query("age > 40 AND modality = 'T1w'")``. A subject
        matched by its own columns keeps all its images in the view."""
        try:  # a condition on subject columns only needs no join (5x faster at 100,000 subjects)
            ids = self.sql(f"SELECT subject_id FROM subjects s WHERE {where}", "arrow").column(0).to_pylist()
            return self._with_subjects(ids)
        except duckdb.BinderException:  # it names image columns
            pass
        subjects, images = self._pairs(
            f"SELECT subject_id AS s, image_id AS i FROM subjects s LEFT JOIN images i USING (subject_id) WHERE {where}"
        )
        return self._derive(subjects, images)

    filter = query

    def sel(
        self,
        subject: str | Sequence[str] | None = None,
        modality: str | Sequence[str] | None = None,
        session: str | Sequence[str] | None = None,
        series: str | Sequence[str] | None = None,
    ) -> View:
        """Images whose ``subject_id``/``modality``/``session``/``series`` is (one of) the given values."""
        conditions, params = [], []
        for column, value in (
            ("subject_id", subject),
            ("modality", modality),
            ("session", session),
            ("series", series),
        ):
            if value is not None:
                values = [value] if isinstance(value, str) else list(value)
                conditions.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += values
        if not conditions:
            return self
        subjects, images = self._pairs(
            f"SELECT subject_id AS s, image_id AS i FROM images WHERE {' AND '.join(conditions)}", params
        )
        return self._derive(subjects, images)

    # -- subject selections ----------------------------------------------------------------
    @cached_property
    def subjects(self) -> list[str]:
        """This view's subject ids, sorted."""
        ids: list[str] = self.sql("SELECT subject_id FROM subjects ORDER BY subject_id", "arrow").column(0).to_pylist()
        return ids

    @cached_property
    def image_ids(self) -> list[str]:
        """This view's image ids, sorted by subject then image."""
        ids: list[str] = (
            self.sql("SELECT image_id FROM images ORDER BY subject_id, image_id", "arrow").column(0).to_pylist()
        )
        return ids

    def __len__(self) -> int:
        return len(self.subjects)

    def _with_subjects(self, ids: Sequence[str]) -> View:
        """A view of these subjects (all of them in this view) with this view's images of them."""
        view = View(self._engine, pa.array(list(ids), pa.string()), self._i)
        view.__dict__["subjects"] = sorted(ids)  # known: no query needed
        return view

    def _derive(self, subjects: pa.Array, images: pa.Array) -> View:
        """A view of exactly these subjects and images (ids that a query over this view returned)."""
        view = View(self._engine, subjects.cast(pa.string()), images.cast(pa.string()))
        view.__dict__["subjects"] = sorted(subjects.to_pylist())
        return view

    @property
    def loc(self) -> _Loc:
        """``view.loc["sub-01"]`` (one subject; ``["T1w"]`` then gives its Image), ``view.loc[[ids]]``."""
        return _Loc(self)

    @property
    def iloc(self) -> _ILoc:
        """Subjects by position in sorted order: ``view.iloc[0]``, ``view.iloc[10:20]``, ``[[0, 5]]``."""
        return _ILoc(self)

    def head(self, n: int = 5) -> View:
        return self._with_subjects(self.subjects[:n])

    def sample(self, n: int, seed: int | None = None) -> View:
        """``n`` subjects drawn without replacement (reproducible with ``seed``)."""
        ids = self.subjects
        if n > len(ids):
            raise CohortError(f"cannot sample {n} of {len(ids)} subjects")
        picked = np.random.default_rng(seed).choice(len(ids), size=n, replace=False)
        return self._with_subjects([ids[k] for k in sorted(picked)])

    def groupby(self, column: str) -> dict[Any, View]:
        """One view per value of a subjects column (groups of subjects) or else of an images column
        (groups of images)."""
        subject_columns = self.sql("SELECT * FROM subjects LIMIT 0", "arrow").column_names
        if column in subject_columns:
            rows = self.sql(
                f'SELECT "{column}" AS k, list(subject_id ORDER BY subject_id) AS s FROM subjects '
                "GROUP BY 1 ORDER BY 1",
                "arrow",
            )
            return {
                k: self._with_subjects(s) for k, s in zip(rows.column("k").to_pylist(), rows.column("s").to_pylist())
            }
        rows = self.sql(
            f'SELECT "{column}" AS k, list(DISTINCT subject_id) AS s, list(image_id) AS i FROM images '
            "GROUP BY 1 ORDER BY 1",
            "arrow",
        )
        return {
            k: self._derive(pa.array(s), pa.array(i))
            for k, s, i in zip(rows.column("k").to_pylist(), rows.column("s").to_pylist(), rows.column("i").to_pylist())
        }

    def split(self, fractions: Sequence[float], stratify: str | None = None, seed: int | None = None) -> list[View]:
        """Patient-level split: disjoint views of subjects in the given proportions (each stratum of
        the subjects column ``stratify`` split alike); one subject is never in two splits."""
        if not fractions or any(f < 0 for f in fractions) or not 0.999 <= sum(fractions) <= 1.001:
            raise CohortError(f"split fractions must be >= 0 and sum to 1, not {list(fractions)}")
        rng = np.random.default_rng(seed)
        strata = self.groupby(stratify).values() if stratify else [self]
        parts: list[list[str]] = [[] for _ in fractions]
        for stratum in strata:
            ids = stratum.subjects
            order = rng.permutation(len(ids))
            for k, (start, stop) in enumerate(_bounds(len(ids), fractions)):
                parts[k] += [ids[j] for j in order[start:stop]]
        return [self._with_subjects(sorted(p)) for p in parts]

    # -- set operations --------------------------------------------------------------------
    def _explicit(self, other: View) -> tuple[set[str], set[str], set[str], set[str]]:
        if other._engine.tables != self._engine.tables:
            raise CohortError("set operations need views of the same cohort")
        return set(self.subjects), set(self.image_ids), set(other.subjects), set(other.image_ids)

    def __or__(self, other: View) -> View:
        s1, i1, s2, i2 = self._explicit(other)
        return self._derive(pa.array(sorted(s1 | s2), pa.string()), pa.array(sorted(i1 | i2), pa.string()))

    def __and__(self, other: View) -> View:
        s1, i1, s2, i2 = self._explicit(other)
        return self._derive(pa.array(sorted(s1 & s2), pa.string()), pa.array(sorted(i1 & i2), pa.string()))

    def __sub__(self, other: View) -> View:
        s1, i1, s2, i2 = self._explicit(other)
        images = sorted(i1 - i2)
        owners = set(
            self.sql("SELECT subject_id FROM images WHERE list_contains(?, image_id)", "arrow", [images])
            .column(0)
            .to_pylist()
        )
        return self._derive(pa.array(sorted((s1 - s2) | owners), pa.string()), pa.array(images, pa.string()))

    # -- tables and images -----------------------------------------------------------------
    def subjects_table(self, output: str = "pandas") -> Any:
        return self.sql("SELECT * FROM subjects ORDER BY subject_id", output)

    def images_table(self, output: str = "pandas") -> Any:
        return self.sql("SELECT * FROM images ORDER BY subject_id, image_id", output)

    @property
    def root(self) -> Root:
        """The cohort's folder, or its URL for a cohort on object storage."""
        return self._engine.tables.root

    def path(self, image_id: str) -> Root:
        """Where an image of this view is (inside the cohort, or its referenced file or URL)."""
        uris = self.sql("SELECT uri FROM images WHERE image_id = ?", "arrow", [image_id]).column(0).to_pylist()
        if not uris:
            raise KeyError(f"{image_id!r}: no such image in this view of {self.root}")
        return locate(self.root, str(uris[0]))

    def open(self, image_id: str) -> Image:
        """The Image ``image_id`` (an ordinary ziggurat Image)."""
        return open_image(self.path(image_id))

    def paths(self) -> dict[str, Root]:
        """image id -> path for every image of the view (one query; what a data loader iterates)."""
        table = self.sql("SELECT image_id, uri FROM images ORDER BY subject_id, image_id", "arrow")
        return {i: locate(self.root, u) for i, u in zip(table.column(0).to_pylist(), table.column(1).to_pylist())}

    def iter_images(self) -> Iterator[tuple[str, Image]]:
        """(image id, Image) for every image, opened one at a time."""
        for image_id, path in self.paths().items():
            yield image_id, open_image(path)

    def __getitem__(self, key: str) -> Image:
        """The one image whose modality or image id is ``key``: ``cohort.loc["sub-01"]["T1w"]``."""
        found = self.sql("SELECT image_id, uri FROM images WHERE modality = ? OR image_id = ? ORDER BY image_id",
                         "arrow", [key, key])  # fmt: skip
        if found.num_rows != 1:
            ids = found.column(0).to_pylist()
            what = "no image" if not ids else f"{len(ids)} images ({', '.join(ids[:5])})"
            raise KeyError(f"{key!r}: {what} in this view; narrow it with .sel(...) or open(image_id)")
        return open_image(locate(self.root, str(found.column(1)[0].as_py())))

    def write(self, uri: str | os.PathLike[str], overwrite: bool = False) -> Cohort:
        """Persist this view as a new cohort; copies only the images it references. ``uri`` may be
        a URL: the cohort is written locally, then published there (``cohort.json`` last)."""
        source = local_root(self.root, "writing a view")
        if is_url(uri):
            with staged(uri, "cohort") as (local, _):
                self.write(local)
                publish(local, os.fspath(uri), overwrite=overwrite)
            return Cohort(uri)
        images = self.images_table("arrow")
        with atomic_path(uri, directory=True, overwrite=overwrite) as tmp:
            for stored_uri, stored in zip(images.column("uri").to_pylist(), images.column("stored").to_pylist()):
                if stored:
                    shutil.copytree(source / stored_uri, Path(tmp) / stored_uri)
            write_tables(tmp, self.subjects_table("arrow"), images)
        return Cohort(uri)

    # -- identity --------------------------------------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        tables = self._engine.tables
        return (_restore, (str(tables.root), tables.generation, _pack(self._s), _pack(self._i)))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root}: {len(self.subjects)} subjects, {len(self.image_ids)} images>"


class Cohort(View):
    """A stored cohort: ``ziggurat.Cohort(path)`` opens the folder's current tables (no pixels).

    ``path`` may be a URL (``s3://bucket/cohort``): the manifest and tables are fetched once, images
    open from their URLs; ``storage_options`` (endpoint, keys, ...) then apply to that bucket."""

    def __init__(self, path: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> None:
        if is_url(path):
            configure(os.fspath(path), storage_options)
        root = cohort_root(path)
        manifest = read_manifest(root)
        super().__init__(Engine(Tables(root, manifest["tables"])))
        self._count = int(manifest.get("subjects", -1))

    def __len__(self) -> int:
        return self._count if self._count >= 0 else len(self.subjects)

    def append(self, src: str | os.PathLike[str], **options: Any) -> Cohort:
        """Ingest ``src`` into this cohort (new subjects and modalities; images already in it are
        skipped) and return the updated cohort; options as for :func:`ziggurat.cohort.ingest`."""
        from .ingest import ingest

        ingest(src, local_root(self.root, "append"), **options)
        return Cohort(self.root)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Cohort, (str(self.root),))


class _Loc:
    def __init__(self, view: View) -> None:
        self._view = view

    def __getitem__(self, key: str | Sequence[str]) -> View:
        ids = [key] if isinstance(key, str) else list(key)
        view = self._view._with_subjects(ids)
        found = view.sql("SELECT subject_id FROM subjects", "arrow").column(0).to_pylist()
        if len(found) < len(set(ids)):
            missing = sorted(set(ids) - set(found))
            raise KeyError(f"no such subject in this view: {', '.join(map(str, missing[:5]))}")
        return view


class _ILoc:
    def __init__(self, view: View) -> None:
        self._view = view

    def __getitem__(self, key: int | slice | Sequence[int]) -> View:
        ids = self._view.subjects
        if isinstance(key, slice):
            return self._view._with_subjects(ids[key])
        positions = [key] if isinstance(key, int) else list(key)
        try:
            return self._view._with_subjects([ids[p] for p in positions])
        except IndexError:
            raise IndexError(f"subject position out of range for {len(ids)} subjects: {key}") from None


def _bounds(n: int, fractions: Sequence[float]) -> list[tuple[int, int]]:
    """Split ``n`` items in proportion to ``fractions`` (largest remainders get the leftovers)."""
    exact = [f * n for f in fractions]
    counts = [int(e) for e in exact]
    for k in sorted(range(len(exact)), key=lambda k: counts[k] - exact[k])[: n - sum(counts)]:
        counts[k] += 1
    edges = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    return [(int(edges[k]), int(edges[k + 1])) for k in range(len(counts))]


def _pack(ids: Ids) -> bytes | None:
    return None if ids is None else zlib.compress("\0".join(ids.to_pylist()).encode(), 6)


def _unpack(blob: bytes | None) -> Ids:
    if blob is None:
        return None
    text = zlib.decompress(blob).decode()
    ids: pa.Array = pa.array(text.split("\0") if text else [], pa.string())
    return ids


def _restore(root: str, generation: str, subjects: bytes | None, images: bytes | None) -> View:
    return View(Engine(Tables(cohort_root(root), generation)), _unpack(subjects), _unpack(images))
