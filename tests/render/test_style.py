"""Styles against hand-computed windows, gamma, LUTs and composites."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ziggurat
from ziggurat.errors import StyleError
from ziggurat.render import colormaps
from ziggurat.render.style import Style


def gray16(values: np.ndarray) -> ziggurat.Image:
    return ziggurat.from_array(values.astype(np.uint16)[:, :, None])


def test_window_maps_16_bit_to_8_bit_by_hand() -> None:
    image = gray16(np.array([[0, 1000, 2000], [3000, 4000, 65535]]))
    out = Style.parse({"min": 0, "max": 4000}).resolve(image)(image.levels[0][:, :])
    # t = v / 4000 -> rint(255 t): 0, 63.75, 127.5, 191.25, 255, clipped 255; gray repeats it in R, G, B
    expected = np.array([[0, 64, 128], [191, 255, 255]], dtype=np.uint8)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], expected)


def test_gamma_and_invert_by_hand() -> None:
    image = gray16(np.array([[1000]]))
    pixels = image.levels[0][:, :]
    # gamma 2: t = 0.25 ** (1/2) = 0.5 -> 127.5 -> 128 ; invert: 1 - 0.25 = 0.75 -> 191.25 -> 191
    assert Style.parse({"min": 0, "max": 4000, "gamma": 2}).resolve(image)(pixels)[0, 0, 0] == 128
    assert Style.parse({"min": 0, "max": 4000, "invert": True}).resolve(image)(pixels)[0, 0, 0] == 191


def test_ct_preset_windows_signed_hounsfield_units() -> None:
    hu = np.array([[-1000, -160, 40, 240, 3000]], dtype=np.int16)
    image = ziggurat.from_array(hu[:, :, None])
    out = Style.parse("ct-soft-tissue").resolve(image)(hu[:, :, None])[:, :, 0]
    # window -160..240 (W400 L40): t = (v + 160) / 400
    np.testing.assert_array_equal(out[0], [0, 0, 128, 255, 255])


def test_colormap_luts_match_formulas_and_known_values() -> None:
    hot = colormaps.lut("hot")
    # hot at index 96: x = 96/255; r = min(1, 8x/3) = 1, g = 8x/3 - 1 = 0.00392 -> 1, b = 0
    assert tuple(hot[96]) == (255, 1, 0)
    assert tuple(hot[0]) == (0, 0, 0) and tuple(hot[255]) == (255, 255, 255)
    assert tuple(colormaps.lut("gray")[77]) == (77, 77, 77)
    jet = colormaps.lut("jet")
    assert tuple(jet[0]) == (0, 0, 128) and tuple(jet[255]) == (128, 0, 0)
    viridis = colormaps.lut("viridis")  # published end points of viridis: #440154 and #fde725
    assert tuple(viridis[0]) == (0x44, 0x01, 0x54) and tuple(viridis[255]) == (0xFD, 0xE7, 0x25)


def test_single_channel_colormap_is_a_lut_lookup() -> None:
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    image = ziggurat.from_array(values[:, :, None])
    out = Style.parse("magma").resolve(image)(values[:, :, None])
    np.testing.assert_array_equal(out.reshape(-1, 3), colormaps.lut("magma"))


def test_rgb_renders_as_itself_and_composite_adds_colours() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    image = ziggurat.from_array(rgb)
    np.testing.assert_array_equal(Style().resolve(image)(rgb), rgb)
    fluo = np.zeros((1, 2, 2), dtype=np.uint16)
    fluo[0, 0] = [100, 0]
    fluo[0, 1] = [100, 200]
    image = ziggurat.from_array(fluo)
    style = Style.parse({"channels": [
        {"index": 0, "min": 0, "max": 200, "color": "#ff8000"},
        {"index": 1, "min": 0, "max": 200, "color": "#ff0000"},
    ]})  # fmt: skip
    out = style.resolve(image)(fluo)
    # channel 0 at t = 0.5 -> level 128 * (255, 128, 0) / 255 = (128, 64, 0); channel 1 adds (255, 0, 0)
    assert tuple(out[0, 0]) == (128, 64, 0)
    assert tuple(out[0, 1]) == (255, 64, 0)  # red clipped at 255


def test_auto_window_uses_percentiles_of_the_image() -> None:
    values = np.arange(10000, dtype=np.uint16).reshape(100, 100) * 3
    image = gray16(values)
    renderer = Style.parse({"percentiles": [10, 90]}).resolve(image)
    low, high = np.percentile(values, [10, 90])
    assert renderer.windows[0].low == pytest.approx(low) and renderer.windows[0].high == pytest.approx(high)


def test_auto_stretches_a_dim_8_bit_image_per_channel_by_hand() -> None:
    # per channel, 10 % of the pixels sit at each end, so the 0.5 / 99.5 percentiles are the ends exactly
    ramp = np.repeat(np.array([100, 110, 120, 130, 140], dtype=np.uint8), [10, 20, 40, 20, 10])
    rgb = np.stack([ramp, ramp - 50, ramp + 100], axis=-1).reshape(10, 10, 3)
    image = ziggurat.from_array(rgb)
    assert not image.metadata.fluorescence
    for spec in ({"min": "auto", "max": "auto"}, "fluorescence"):
        renderer = Style.parse(spec).resolve(image)
        assert [(w.low, w.high) for w in renderer.windows] == [(100, 140), (50, 90), (200, 240)]
        # t = (v - low) / 40 -> rint(255 t): 0, 63.75, 127.5, 191.25, 255 on every channel
        out = renderer(rgb).reshape(-1, 3)
        for v, level in zip([100, 110, 120, 130, 140], [0, 64, 128, 191, 255]):
            assert (out[ramp == v] == level).all()
    np.testing.assert_array_equal(Style().resolve(image)(rgb), rgb)  # unset bounds: 0..255, untouched
    # one bound "auto", the other unset: the unset one keeps its 8-bit default
    (window,) = Style.parse({"channels": [{"index": 0, "min": "auto"}]}).resolve(image).windows
    assert (window.low, window.high) == (100, 255)


def test_channel_selection_by_name() -> None:
    arr = np.zeros((2, 2, 3), dtype=np.uint16)
    arr[..., 2] = 500
    image = ziggurat.from_array(arr, channel_names=["DAPI", "CD3", "CD8"])
    out = Style.parse({"channels": [{"index": "CD8", "min": 0, "max": 500}]}).resolve(image)(arr)
    assert (out == 255).all()
    with pytest.raises(StyleError, match=r"channels\[0\]\.index"):
        Style.parse({"channels": ["CD4"]}).resolve(image)


def test_round_trip_and_key() -> None:
    spec = {"channels": [{"index": 1, "min": 5, "max": 900, "color": "#00ff00"}], "gamma": 0.8}
    style = Style.parse(json.dumps(spec))
    again = Style.parse(json.dumps(style.to_dict()))
    assert again == style and again.key == style.key
    assert Style.parse({"gamma": 0.9}).key != style.key
    auto = Style.parse({"min": "auto", "max": "auto"})
    assert auto.to_dict()["min"] == "auto" and Style.parse(auto.to_dict()) == auto and auto.key != Style().key


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"colour": "red"}, "'colour'"),
        ({"colormap": "rainbowz"}, "colormap"),
        ({"min": 10, "max": 5}, "max"),
        ({"gamma": -1}, "gamma"),
        ({"invert": "yes"}, "invert"),
        ({"channels": [{"index": 0, "color": "#ggg"}]}, r"channels\[0\]\.color"),
        ({"channels": [{"index": 0, "max": "high"}]}, r"channels\[0\]\.max"),
        ({"channels": []}, "channels"),
        ({"percentiles": [90, 10]}, "percentiles"),
        ("{not json", "JSON"),
        ("no-such-preset", "preset"),
    ],
)
def test_invalid_styles_name_the_field(spec: object, field: str) -> None:
    with pytest.raises(StyleError, match=field):
        Style.parse(spec)  # type: ignore[arg-type]


def test_colormap_with_several_channels_is_rejected() -> None:
    image = ziggurat.from_array(np.zeros((2, 2, 3), dtype=np.uint16))
    with pytest.raises(StyleError, match="colormap"):
        Style.parse({"colormap": "viridis"}).resolve(image)


def test_ome_channel_colours_tint_the_composite(tmp_path: object) -> None:
    import tifffile

    path = f"{tmp_path}/two.ome.tif"
    planes = np.zeros((2, 8, 8), dtype=np.uint16)
    planes[0], planes[1] = 100, 50
    # OME colours are signed RGBA ints: -16776961 = 0xFF0000FF (red), 16777215 = 0x00FFFFFF (cyan)
    channels = {"Name": ["A", "B"], "Color": [-16776961, 16777215]}
    tifffile.imwrite(path, planes, ome=True, photometric="minisblack", metadata={"axes": "CYX", "Channel": channels})
    image = ziggurat.open(path)
    assert image.channel_colors == [(255, 0, 0), (0, 255, 255)]
    out = Style.parse({"min": 0, "max": 100}).resolve(image)(image.levels[0][:, :])
    # channel A at t = 1 -> (255, 0, 0); channel B at t = 0.5 -> level 128 -> (0, 128, 128)
    assert tuple(out[0, 0]) == (255, 128, 128)
