"""The conformance suite's own tests: every check passes on a correct image and fails on a broken one.

Each case breaks one thing — a reader, or one method of the model (monkeypatched) — and runs the
check that must catch it. The same check on the unbroken image is the control.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import ziggurat
from ziggurat.errors import CorruptImageError
from ziggurat.model.image import Image
from ziggurat.model.level import Level
from ziggurat.model.slide import SlideView
from ziggurat.model.volume import VolumeView
from ziggurat.sources.array import ArraySource
from ziggurat.sources.base import ArrayReader, Box, Metadata
from ziggurat.testing import sources as suite

RNG = np.random.default_rng(11)
SLIDE = RNG.integers(0, 256, (70, 90, 3), dtype=np.uint8)
VOLUME = RNG.integers(0, 1000, (6, 20, 30), dtype=np.uint16)


class EdgeOffByOne(ArrayReader):
    def read(self, box: Box) -> np.ndarray:
        out = super().read(box)
        if box[0][1] == self.shape[0] and out.size:
            out[-1] += 1  # the last row is wrong
        return out


class ReadOnlyView(ArrayReader):
    def read(self, box: Box) -> np.ndarray:
        view = self.array[tuple(slice(a, b) for a, b in box)]
        view.flags.writeable = False
        return view


class NoEmpty(ArrayReader):
    def read(self, box: Box) -> np.ndarray:
        if any(a == b for a, b in box):
            raise ValueError("empty")
        return super().read(box)


class ParentOnly(ArrayReader):
    def __init__(self, array: np.ndarray, chunks: Any = None) -> None:
        super().__init__(array, chunks)
        self.pid = os.getpid()

    def read(self, box: Box) -> np.ndarray:
        if os.getpid() != self.pid:
            raise RuntimeError("a handle that does not survive a fork")
        return super().read(box)


class SharedScratch(ArrayReader):
    """Not thread-safe: every read goes through one scratch buffer."""

    def __init__(self, array: np.ndarray, chunks: Any = None) -> None:
        super().__init__(array, chunks)
        self.scratch = np.empty(array.size, array.dtype)
        self.lock = threading.Lock()

    def read(self, box: Box) -> np.ndarray:
        part = self.array[tuple(slice(a, b) for a, b in box)]
        self.scratch[: part.size] = part.ravel()
        time.sleep(0.002)  # another thread overwrites the scratch meanwhile
        return self.scratch[: part.size].reshape(part.shape).copy()


class ZeroedOnUnpickle(ArraySource):
    def __reduce__(self) -> tuple[Any, ...]:
        return (ArraySource, ([np.zeros_like(a) for a in self.arrays], self.metadata, self.levels[0].chunks))


def slide(reader: type[ArrayReader] = ArrayReader, source: type[ArraySource] = ArraySource) -> Image:
    src = source([SLIDE.copy()], Metadata.slide("array"), (32, 32, 3))
    src.levels = [reader(a, (32, 32, 3)) for a in src.arrays]
    return Image(src, None, "array")


def volume() -> Image:
    return ziggurat.from_array(VOLUME.copy(), axes="zyx", spacing=(2.0, 0.5, 0.5), chunks=(2, 8, 8))


def slide_ref() -> suite.Reference:
    return suite.array_reference(SLIDE, "yxc")


def volume_ref() -> suite.Reference:
    return suite.array_reference(VOLUME, "zyx")


def unchecked_read(self: Level, box: Box) -> np.ndarray:
    return self.reader.read(box)  # no bounds check


def numpy_getitem(self: Level, key: Any) -> np.ndarray:
    return np.asarray(self)[key]  # NumPy accepts fancy keys and negative steps


def unsqueezed_getitem(self: Level, key: Any) -> np.ndarray:
    key = key if isinstance(key, tuple) else (key,)
    key = tuple(slice(k, k + 1 if k != -1 else None) if isinstance(k, (int, np.integer)) else k for k in key)
    return np.asarray(self)[key]  # ints keep their axis


def white_padding(self: SlideView, location: Any, level: int, size: Any, **kw: Any) -> np.ndarray:
    return ORIGINAL_READ_REGION(self, location, level, size, rgba=kw.get("rgba", False), fill=255)


ORIGINAL_READ_REGION = SlideView.read_region


def plane_one_off(image: Image, axis: str | None = None, index: int | None = None, **kw: Any) -> Image:
    return ziggurat.plane(image, axis, None if index is None else index - 1 if index else 1, **kw)


def no_check(self: Any) -> None:
    pass


# check name -> (image, reference, mutated image or None, patches: (object, attribute, replacement))
Case = tuple[Callable[[], Image], Callable[[], suite.Reference], Callable[[], Image] | None, list[tuple[Any, str, Any]]]
CASES: dict[str, Case] = {
    "metadata": (slide, lambda: suite.Reference([SLIDE.transpose(1, 0, 2)], "yxc"), None, []),
    "full_levels": (slide, slide_ref, lambda: slide(EdgeOffByOne), []),
    "boxes": (slide, slide_ref, lambda: slide(EdgeOffByOne), []),
    "new_arrays": (slide, slide_ref, lambda: slide(ReadOnlyView), []),
    "empty_boxes": (slide, slide_ref, lambda: slide(NoEmpty), []),
    "out_of_range": (slide, slide_ref, None, [(Level, "read", unchecked_read)]),
    "slicing": (volume, volume_ref, None, [(Level, "__getitem__", unsqueezed_getitem)]),
    "unsupported_indexing": (volume, volume_ref, None, [(Level, "__getitem__", numpy_getitem)]),
    "bool_index": (volume, volume_ref, None, [(Level, "__getitem__", numpy_getitem)]),
    "pickle": (slide, slide_ref, lambda: slide(source=ZeroedOnUnpickle), []),
    "workers": (slide, slide_ref, lambda: slide(ParentOnly), []),
    "threads": (slide, slide_ref, lambda: slide(SharedScratch), []),
    "slide_view": (slide, slide_ref, None, [(SlideView, "read_region", white_padding)]),
    "volume_view": (volume, volume_ref, None, [(VolumeView, "coronal", VolumeView.sagittal)]),
    "planes": (volume, volume_ref, None, [(suite, "plane", plane_one_off)]),
    "axes_errors": (volume, volume_ref, None, [(SlideView, "_slide", no_check), (Level, "_slide", no_check)]),
}


def run(name: str, image: Image, reference: suite.Reference) -> None:
    reads = suite.image_reads(image)
    calls: dict[str, Callable[[], None]] = {
        "metadata": lambda: suite.check_metadata(image, reference, "array", None),
        "full_levels": lambda: suite.check_full_levels(image, reference),
        "boxes": lambda: suite.check_boxes(image, reference, reads),
        "new_arrays": lambda: suite.check_new_arrays(image, reference, reads),
        "empty_boxes": lambda: suite.check_empty_boxes(image, reference),
        "out_of_range": lambda: suite.check_out_of_range(image),
        "slicing": lambda: suite.check_slicing(image, reference),
        "unsupported_indexing": lambda: suite.check_unsupported_indexing(image),
        "bool_index": lambda: suite.check_bool_index(image),
        "pickle": lambda: suite.check_pickle(image, reference, reads),
        "workers": lambda: suite.check_workers(image, reference, reads[:4], "fork", 30),
        "threads": lambda: suite.check_threads(image, reference, reads),
        "slide_view": lambda: suite.check_slide_view(image, reference),
        "volume_view": lambda: suite.check_volume_view(image, reference),
        "planes": lambda: suite.check_planes(image, reference),
        "axes_errors": lambda: suite.check_axes_errors(image),
    }
    calls[name]()


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[tuple[Any, str, Any]]], None]]:
    def apply(patches: list[tuple[Any, str, Any]]) -> None:
        for target, attribute, value in patches:
            monkeypatch.setattr(target, attribute, value)

    yield apply


def test_every_check_has_a_case() -> None:
    checks = {name.removeprefix("check_") for name in dir(suite) if name.startswith("check_")}
    assert checks == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_passes_on_a_correct_image(name: str, request: pytest.FixtureRequest) -> None:
    make, reference, _, _ = CASES[name]
    if name == "metadata":
        reference = slide_ref
    run(name, make(), reference())


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_fails_on_a_broken_image(name: str, patched: Callable[[list[tuple[Any, str, Any]]], None]) -> None:
    make, reference, broken, patches = CASES[name]
    image = (broken or make)()
    patched(patches)
    # the reader's own error where the broken reader raises (a RuntimeError reaches the caller as the
    # CorruptImageError the level read path wraps it in); else the check's assertion
    expected = {"workers": CorruptImageError, "empty_boxes": ValueError}.get(
        name, (AssertionError, pytest.fail.Exception)
    )
    with pytest.raises(expected):
        run(name, image, reference())
