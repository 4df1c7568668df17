"""2-D patches of slides (axes ``yxc``) at a level: a grid, or random, optionally inside a tissue mask
thresholded once (Otsu) from the slide's smallest level."""

from __future__ import annotations

import base64
import bisect
import itertools
import json
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..model.image import Image
from .base import PatchDataset, Plan
from .images import image_set
from .sampling import grid_starts, rng, strides


def otsu_threshold(values: np.ndarray) -> int:
    """Otsu's threshold of 8-bit values: the level ``t`` maximising the between-class variance of
    ``values <= t`` and ``values > t`` (the first such level, as scikit-image's ``threshold_otsu``)."""
    hist = np.bincount(np.clip(values.ravel(), 0, 255).astype(np.int64), minlength=256).astype(np.float64)
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * np.arange(256))
    total, total_mean = weight[-1], mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mean * weight - mean * total) ** 2 / (weight * (total - weight))
    return int(np.argmax(np.nan_to_num(between)))


def tissue_mask(image: Image) -> tuple[np.ndarray, float]:
    """(mask of the smallest level where its grey is at most Otsu's threshold, level-0 pixels per mask
    pixel): tissue on a bright glass background."""
    low = image.levels[-1]
    rgb = low.read(tuple((0, n) for n in low.shape))
    grey = rgb[..., :3].mean(axis=-1).astype(np.uint8)
    return grey <= otsu_threshold(grey), image.shape[1] / low.shape[1]


def encode_mask(mask: np.ndarray, scale: float) -> str:
    """A tissue mask as the text kept in a cohort's images table: shape, scale and packed bits."""
    bits = base64.b64encode(np.packbits(mask).tobytes()).decode("ascii")
    return json.dumps({"shape": list(mask.shape), "scale": scale, "bits": bits})


def decode_mask(text: str) -> tuple[np.ndarray, float]:
    found = json.loads(text)
    count = int(np.prod(found["shape"]))
    bits = np.unpackbits(np.frombuffer(base64.b64decode(found["bits"]), np.uint8), count=count)
    return bits.reshape(found["shape"]).astype(bool), float(found["scale"])


class SlidePatches(PatchDataset):
    """Square patches of ``patch_size`` pixels of ``level``, or at ``mpp`` micrometres per pixel (each
    slide read at its finest level not finer than needed — openslide's best level for the downsample —
    over the matching footprint, then area-resized to ``patch_size``): ``samples_per_epoch`` random ones
    (uniform over slides, then over origins), or the grid with ``overlap`` when it is None. With
    ``tissue``, only patches whose footprint is at least ``min_tissue`` tissue (random origins are
    drawn around tissue pixels)."""

    def __init__(self, images: Any, patch_size: int = 256, *, level: int = 0, mpp: float | None = None,
                 samples_per_epoch: int | None = None, overlap: int = 0, tissue: bool = False,
                 min_tissue: float = 0.5, seed: int = 0, labels: Sequence[str] = (),
                 max_open: int = 64) -> None:  # fmt: skip
        super().__init__(image_set(images, None, labels, max_open), seed)
        self.patch = int(patch_size)
        self.level = level
        self.samples_per_epoch = samples_per_epoch
        self.min_tissue = min_tissue
        slides = [self.images.image(k) for k in range(len(self.images))]
        if not slides or any(s.axes != "yxc" for s in slides):
            raise ValueError("SlidePatches needs slides (axes 'yxc')")
        self.levels = [level] * len(slides)  # the level read, per slide
        self.reads = [self.patch] * len(slides)  # the footprint read there (resized to patch_size)
        if mpp is not None:
            for k, slide in enumerate(slides):
                if slide.mpp is None:
                    raise ValueError(f"{slide.path or 'slide'}: no pixel size (mpp) recorded; give level= instead")
                wanted = mpp / slide.mpp[0]  # level-0 pixels per output pixel
                self.levels[k] = slide.get_best_level_for_downsample(wanted)
                self.reads[k] = max(1, round(self.patch * wanted / slide.levels[self.levels[k]].downsample))
        self.dtype = slides[0].levels[self.levels[0]].dtype
        self.sizes = [s.levels[k].shape[:2] for s, k in zip(slides, self.levels)]  # (height, width) read
        self.downsamples = [s.levels[k].downsample for s, k in zip(slides, self.levels)]
        self.masks = self._tissue_masks(slides) if tissue else None
        self.grid: list[list[tuple[int, int]]] = []
        self._ends: list[int] = []
        if samples_per_epoch is None:
            for k, (h, w) in enumerate(self.sizes):
                read = self.reads[k]
                (step,) = strides((read,), (round(overlap * read / self.patch),))
                cells = itertools.product(grid_starts(h, read, step), grid_starts(w, read, step))
                self.grid.append([c for c in cells if not tissue or self._tissue_fraction(k, *c) >= min_tissue])
            self._ends = list(itertools.accumulate(len(g) for g in self.grid))

    def __len__(self) -> int:
        return self.samples_per_epoch if self.samples_per_epoch is not None else self._ends[-1]

    def _tissue_masks(self, slides: list[Image]) -> list[tuple[np.ndarray, float]]:
        """Each slide's mask: from the cohort's ``tissue_mask`` column when it has one, else computed
        (and, over a cohort, stored there so that the next dataset reads it instead)."""
        stored = self.images.stored.pop("tissue_mask", None) or [None] * len(slides)  # (not pickled twice)
        masks = [tissue_mask(s) if text is None else decode_mask(text) for s, text in zip(slides, stored)]
        if self.images.root is None:
            return masks
        new = {self.images.stored["image_id"][k]: encode_mask(*masks[k]) for k, t in enumerate(stored) if t is None}
        if new:
            from ..cohort.jobs import record_column

            try:
                record_column(self.images.root, "tissue_mask", new)
            except OSError as exc:  # a read-only cohort: masks are recomputed next time
                warnings.warn(f"{self.images.root}: tissue masks not stored ({exc})", stacklevel=3)
        return masks

    def level_of(self, entry: int) -> int:
        return self.levels[entry]

    def _tissue_fraction(self, entry: int, y: int, x: int) -> float:
        assert self.masks is not None
        mask, scale = self.masks[entry]
        per = self.downsamples[entry] / scale  # mask pixels per level pixel
        read = self.reads[entry]
        y0, x0 = int(y * per), int(x * per)
        y1, x1 = max(int((y + read) * per), y0 + 1), max(int((x + read) * per), x0 + 1)
        window = mask[y0:y1, x0:x1]
        return float(window.mean()) if window.size else 0.0

    def position(self, index: int, epoch: int) -> tuple[int, tuple[int, int]]:
        """(entry, origin (y, x) in the pixels of the level read) of sample ``index`` in ``epoch``."""
        if self.samples_per_epoch is None:
            entry = bisect.bisect_right(self._ends, index)
            return entry, self.grid[entry][index - (self._ends[entry - 1] if entry else 0)]
        r = rng(self.seed, epoch, index)
        entry = int(r.integers(len(self.sizes)))
        h, w = self.sizes[entry]
        read = self.reads[entry]
        top, left = max(h - read, 0), max(w - read, 0)
        if self.masks is None or not self.masks[entry][0].any():
            return entry, (int(r.integers(top + 1)), int(r.integers(left + 1)))
        mask, scale = self.masks[entry]
        cells = np.flatnonzero(mask)
        for _ in range(16):  # a centre on tissue, kept if the footprint is tissue enough
            my, mx = divmod(int(cells[r.integers(len(cells))]), mask.shape[1])
            per = scale / self.downsamples[entry]  # level pixels per mask pixel
            cy, cx = (my + r.random()) * per, (mx + r.random()) * per
            y = min(max(int(cy) - read // 2, 0), top)
            x = min(max(int(cx) - read // 2, 0), left)
            if self._tissue_fraction(entry, y, x) >= self.min_tissue:
                break
        return entry, (y, x)

    def plan(self, index: int, epoch: int) -> Plan:
        entry, origin = self.position(index, epoch)
        return entry, origin, (self.reads[entry],) * 2

    def output_size(self, size: tuple[int, ...]) -> tuple[int, ...]:
        return (self.patch, self.patch)

    def location(self, entry: int, origin: tuple[int, ...]) -> tuple[int, ...]:
        y, x = origin
        ds = self.downsamples[entry]
        return round(x * ds), round(y * ds)  # level-0 (x, y), as openslide counts

    def origin(self, entry: int, location: tuple[int, ...]) -> tuple[int, ...]:
        x, y = location
        ds = self.downsamples[entry]
        return round(y / ds), round(x / ds)

    def extent(self, entry: int) -> tuple[int, ...]:
        return self.sizes[entry]

    def footprint(self, entry: int) -> tuple[int, ...]:
        return (self.reads[entry],) * 2
