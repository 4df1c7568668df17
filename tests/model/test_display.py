"""Planes on screen as radiologists read them: orientation from the affine, labels, square pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ziggurat
from ziggurat.model.display import display_plane, orientation

SHAPE = (6, 8, 10)  # z y x
DATA = np.arange(np.prod(SHAPE), dtype=np.uint16).reshape(SHAPE)


def _volume(affine: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> ziggurat.Image:
    return ziggurat.from_array(DATA, axes="zyx", spacing=spacing, affine=affine)


def _shown(image: ziggurat.Image) -> np.ndarray:
    return np.asarray(image.levels[0][:, :, 0])


def test_ras_axial_is_anterior_up_and_patient_left_on_the_right() -> None:
    vol = _volume(np.eye(4))  # +x = right, +y = anterior, +z = superior
    shown = display_plane(vol, "z", 2)
    np.testing.assert_array_equal(_shown(shown), DATA[2, ::-1, ::-1])  # rows: anterior first; columns: left last
    assert orientation(vol, "z").labels == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    neuro = display_plane(vol, "axial", 2, convention="neurological")
    np.testing.assert_array_equal(_shown(neuro), DATA[2, ::-1, :])
    assert orientation(vol, "z", "neurological").labels["right"] == "R"


def test_coronal_and_sagittal_are_superior_up() -> None:
    vol = _volume(np.eye(4))
    np.testing.assert_array_equal(_shown(display_plane(vol, "coronal", 3)), DATA[::-1, 3, ::-1])
    assert orientation(vol, "y").labels == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
    np.testing.assert_array_equal(_shown(display_plane(vol, "sagittal", 4)), DATA[::-1, ::-1, 4])
    assert orientation(vol, "x").labels == {"top": "S", "bottom": "I", "left": "A", "right": "P"}


def test_las_and_permuted_storage_look_the_same_on_screen() -> None:
    las = np.diag([-1.0, 1.0, 1.0, 1.0])  # x runs right to left already
    np.testing.assert_array_equal(_shown(display_plane(_volume(las), "z", 2)), DATA[2, ::-1, :])
    swapped = np.zeros((4, 4))
    swapped[1, 0] = swapped[0, 1] = swapped[2, 2] = swapped[3, 3] = 1  # stored x runs anterior, stored y right
    o = orientation(_volume(swapped), "z")
    assert o.transpose and o.labels == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    np.testing.assert_array_equal(_shown(display_plane(_volume(swapped), "z", 2)), DATA[2].T[::-1, ::-1])


def test_anisotropic_planes_get_square_screen_pixels() -> None:
    vol = _volume(np.diag([0.5, 1.0, 2.0, 1.0]), spacing=(2.0, 1.0, 0.5))
    shown = display_plane(vol, "coronal", 3)
    assert shown.dimensions == (10, 24)  # 6 slices of 2 mm under 0.5 mm columns: each slice 4 rows
    np.testing.assert_array_equal(_shown(shown), np.repeat(DATA[::-1, 3, ::-1], 4, axis=0))
    assert shown.mpp == (500.0, 500.0)
    tile = shown.levels[0][5:13, 2:7]  # an inner box reads the same as the whole
    np.testing.assert_array_equal(tile[..., 0], _shown(shown)[5:13, 2:7])


def test_a_dicom_series_in_lps_is_drawn_radiologically(realdata: Path) -> None:
    with pytest.warns(UserWarning):
        vol = ziggurat.open(realdata / "dicom" / "series-ct-ge-tilt")
    o = orientation(vol, "z")
    assert not o.flip_cols and not o.flip_rows  # DICOM rows run anterior to posterior, columns right to left
    assert o.labels == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    coronal = display_plane(vol, "y")
    assert coronal.dimensions[1] > 10 * vol.shape[0]  # ~5.3 mm slices under 0.49 mm pixels
