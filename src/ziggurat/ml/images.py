"""The images a dataset samples from: reopen recipes (not open handles), subjects and label values.

A dataset holds, per entry, one recipe per modality — ``(callable, args)``, what ``Image.__reduce__``
gives, so a file-backed Image is reopened from its path and an in-memory one travels with its arrays —
and opens them on first use in each process, keeping at most ``max_open`` open (the one LRU).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeAlias

from ..cache.lru import LRU
from ..cohort.store import locate
from ..model.image import Image, reopen

Recipe: TypeAlias = tuple[Any, tuple[Any, ...]]


class ImageSet:
    """Entries of one or more images (modalities stacked as channels) with subjects and labels."""

    def __init__(
        self,
        recipes: list[tuple[Recipe, ...]],
        subjects: list[str | None],
        labels: dict[str, list[Any]],
        max_open: int = 64,
        mapped: bool = False,
    ) -> None:
        self.recipes = recipes
        self.mapped = mapped  # the last image of every entry is its sampling map, not a channel
        self.root: str | None = None  # the cohort's folder, when the entries come from one
        self.stored: dict[str, list[Any]] = {}  # columns of each entry's first image in the cohort's images table
        self.subjects = subjects
        self.labels = labels
        self.max_open = max_open
        self._open: tuple[int, LRU[tuple[int, int], Image]] | None = None

    def __len__(self) -> int:
        return len(self.recipes)

    def image(self, entry: int, modality: int = 0) -> Image:
        """The open Image of ``entry`` (its ``modality``-th image), opened once per process."""
        held = self._open
        if held is None or held[0] != os.getpid():  # a forked child must not share the parent's handles
            held = self._open = (os.getpid(), LRU(self.max_open, sizeof=lambda _: 1))
        image = held[1].get((entry, modality))
        if image is None:
            make, args = self.recipes[entry][modality]
            image = make(*args)
            held[1].put((entry, modality), image)
        return image

    def images(self, entry: int) -> list[Image]:
        """The images stacked as channels of ``entry``."""
        return [self.image(entry, m) for m in range(len(self.recipes[entry]) - self.mapped)]

    def map(self, entry: int) -> Image:
        """The sampling map of ``entry`` (a label map or weights)."""
        if not self.mapped:
            raise ValueError("this dataset has no sampling map")
        return self.image(entry, len(self.recipes[entry]) - 1)

    def sample_fields(self, entry: int) -> dict[str, Any]:
        """The fields every sample of ``entry`` carries: subject and label values."""
        fields: dict[str, Any] = {"subject": self.subjects[entry] or ""}
        fields.update({name: values[entry] for name, values in self.labels.items()})
        return fields

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_open": None}


def image_set(
    images: Any, modalities: Sequence[str] | None = None, labels: Sequence[str] = (), max_open: int = 64,
    sampling_map: Any = None,
) -> ImageSet:  # fmt: skip
    """An :class:`ImageSet` from a Cohort or view (``modalities``: one entry per subject with these
    images stacked; ``labels``: subjects/images columns carried by every sample; ``sampling_map``: the
    modality of each subject's map) or a list of Images (``sampling_map``: a list of Images, one each)."""
    if hasattr(images, "sql"):
        if sampling_map is not None and (not modalities or not isinstance(sampling_map, str)):
            raise TypeError("over a cohort, sampling_map= is a modality name and needs modalities=")
        wanted = None if not modalities else [*modalities, *([sampling_map] if sampling_map else [])]
        found = _from_view(images, wanted, labels, max_open)
        found.mapped = sampling_map is not None
        return found
    if modalities or labels:
        raise TypeError("modalities= and labels= need a Cohort or a view; pass a list of Images alone")
    images = list(images)
    maps = [] if sampling_map is None else list(sampling_map)
    if sampling_map is not None and len(maps) != len(images):
        raise ValueError(f"{len(maps)} sampling maps for {len(images)} images")
    recipes: list[tuple[Recipe, ...]] = [
        (image.__reduce__(), *([maps[k].__reduce__()] if maps else [])) for k, image in enumerate(images)
    ]
    return ImageSet(recipes, [None] * len(recipes), {}, max_open, mapped=bool(maps))


#: columns the ML datasets keep in a cohort's images table (computed once, e.g. a slide's tissue mask)
STORED = ("tissue_mask",)


def _from_view(view: Any, modalities: Sequence[str] | None, labels: Sequence[str], max_open: int) -> ImageSet:
    extra = "".join(f', "{name}"' for name in labels)
    present = set(view.sql("SELECT * FROM images LIMIT 0", "arrow").column_names)
    stored = [name for name in STORED if name in present]
    extra += "".join(f', i."{name}" AS "_stored_{name}"' for name in stored)
    table = view.sql(
        f"SELECT i.subject_id, i.modality, i.uri, i.image_id{extra} FROM images i JOIN subjects s USING (subject_id) "
        "ORDER BY i.subject_id, i.image_id",
        "arrow",
    ).to_pylist()
    rows: list[list[dict[str, Any]]]
    if modalities:
        by_subject: dict[str, dict[str, dict[str, Any]]] = {}
        for row in table:
            by_subject.setdefault(row["subject_id"], {}).setdefault(row["modality"], row)
        rows = [[found[m] for m in modalities] for found in by_subject.values() if all(m in found for m in modalities)]
    else:
        rows = [[row] for row in table]
    recipes: list[tuple[Recipe, ...]] = [
        tuple((reopen, (os.fspath(locate(view.root, r["uri"])), None, {})) for r in group) for group in rows
    ]
    found = ImageSet(
        recipes,
        [group[0]["subject_id"] for group in rows],
        {name: [group[0][name] for group in rows] for name in labels},
        max_open,
    )
    found.root = os.fspath(view.root)
    found.stored = {"image_id": [group[0]["image_id"] for group in rows]}
    found.stored.update({name: [group[0][f"_stored_{name}"] for group in rows] for name in stored})
    return found
