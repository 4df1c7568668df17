"""CT-stack thumbnails vs a NumPy reference: the real stent-ct stack, generated 16-bit stacks, resume, bad input."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from ziggurat.cli import main
from ziggurat.errors import CorruptImageError, ImageNotFoundError, UnsupportedFormatError
from ziggurat.io.atomic import OutputExistsError
from ziggurat.writers.thumbnails import build_thumbnails


def mean_blocks(volume: np.ndarray, fz: int) -> np.ndarray:
    """Float mean over fz x 2 x 2 blocks, odd edges repeated."""
    pad = [(0, volume.shape[0] % fz), (0, volume.shape[1] % 2), (0, volume.shape[2] % 2)]
    v = np.pad(volume.astype(np.float64), pad, mode="edge")
    z, y, x = v.shape
    return v.reshape(z // fz, fz, y // 2, 2, x // 2, 2).mean(axis=(1, 3, 5))


def reference(volume: np.ndarray, window: tuple[float, float], pair: bool, levels: int) -> list[np.ndarray]:
    lo, hi = window
    first = mean_blocks(volume, 2 if pair else 1)
    out = [np.floor(np.clip((first - lo) / (hi - lo) * 255, 0, 255) + 0.5).astype(np.uint8)]
    while len(out) < levels:
        out.append(np.floor(mean_blocks(out[-1], 2) + 0.5).astype(np.uint8))
    return out


def read_levels(out: Path, fmt: str, levels: int) -> list[np.ndarray]:
    def read(path: Path) -> np.ndarray:
        if fmt == "tif":
            return tifffile.imread(path)
        return np.asarray(Image.open(io.BytesIO(path.read_bytes())))  # an independent PNG decoder

    return [np.stack([read(p) for p in sorted((out / str(k)).iterdir())]) for k in range(1, levels + 1)]


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    """Equal but for rare +-1 where a mean lands on .5 and the float order of operations differs."""
    assert got.shape == want.shape
    diff = np.abs(got.astype(int) - want)
    assert diff.max() <= 1 and np.count_nonzero(diff) <= max(2, diff.size // 5000)


def write_stack(folder: Path, volume: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    for i, plane in enumerate(volume):
        tifffile.imwrite(folder / f"s_{i:03d}.tif", plane)
    return folder


@pytest.mark.parametrize("pair", [False, True], ids=["per-slice", "pair-average"])
def test_real_stent_stack(tmp_path: Path, realdata: Path, pair: bool) -> None:
    stack = realdata / "tiff-stack" / "stent-ct"
    files = sorted(stack.glob("*.tif"))
    volume = np.stack([tifffile.imread(f) for f in files])
    picks = sorted({int(i) for i in np.linspace(0, len(files) - 1, 16).round()})
    window = (float(volume[picks].min()), float(volume[picks].max()))  # the documented "auto" rule
    summary = build_thumbnails(stack, tmp_path / "out", pair_average=pair, levels=3)
    assert summary["window"] == window and summary["levels"] == 3
    for got, want in zip(read_levels(tmp_path / "out", "png", 3), reference(volume, window, pair, 3)):
        assert_close(got, want)


def test_generated_16bit_odd_sizes_tif(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    volume = rng.integers(0, 65536, (9, 45, 38), dtype=np.uint16)  # odd slice count and height
    stack = write_stack(tmp_path / "stack", volume)
    window = (1000.0, 60000.0)
    summary = build_thumbnails(stack, tmp_path / "out", pair_average=True, window=window, format="tif", levels=3)
    assert summary["written"] == summary["images"] == 5 + 3 + 2
    for got, want in zip(read_levels(tmp_path / "out", "tif", 3), reference(volume, window, True, 3)):
        assert_close(got, want)


def test_signed_16bit_stack(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    volume = rng.integers(-1024, 3072, (5, 41, 30), dtype=np.int16)  # Hounsfield-like, odd sizes
    volume[2, :3] = -32768  # the extremes of the type go through the table too
    volume[3, -2:] = 32767
    stack = write_stack(tmp_path / "stack", volume)
    window = (-200.0, 400.0)
    build_thumbnails(stack, tmp_path / "out", pair_average=True, window=window, levels=2)
    for got, want in zip(read_levels(tmp_path / "out", "png", 2), reference(volume, window, True, 2)):
        assert_close(got, want)


def test_12bit_and_full_range_bands_in_one_slice(tmp_path: Path) -> None:
    """Bands whose sums fit 16 bits are summed in 16 bits, the others in 32: both must be exact."""
    rng = np.random.default_rng(8)
    volume = rng.integers(0, 4096, (4, 300, 70), dtype=np.uint16)
    volume[1, 140:150] = rng.integers(60000, 65536, (10, 70), dtype=np.uint16)  # one band needs 32 bits
    stack = write_stack(tmp_path / "stack", volume)
    window = (0.0, 65535.0)
    build_thumbnails(stack, tmp_path / "out", pair_average=True, window=window, format="tif", levels=1)
    (got,) = read_levels(tmp_path / "out", "tif", 1)
    (want,) = reference(volume, window, True, 1)
    assert_close(got, want)
    assert got[0, 70:75].min() > 100  # the bright rows of slice 1 survived (no 16-bit wrap-around)


def test_resume_rewrites_only_missing_outputs(tmp_path: Path) -> None:
    volume = np.random.default_rng(4).integers(0, 4096, (12, 64, 64), dtype=np.uint16)
    stack = write_stack(tmp_path / "stack", volume)
    out = tmp_path / "out"
    build_thumbnails(stack, out, window=(0, 4095), levels=3)
    kept = out / "1" / "000003.png"
    os.utime(kept, (1, 1))
    removed = [out / "1" / "000004.png", out / "2" / "000000.png", out / "3" / "000001.png"]
    for path in removed:
        path.unlink()

    seen = []
    summary = build_thumbnails(stack, out, window=(0, 4095), levels=3, progress=lambda d, t: seen.append((d, t)))
    assert summary["written"] == len(removed) and all(p.is_file() for p in removed)
    assert kept.stat().st_mtime == 1 and seen[-1] == (12, 12)
    for got, want in zip(read_levels(out, "png", 3), reference(volume, (0, 4095), False, 3)):
        assert_close(got, want)
    with pytest.raises(OutputExistsError):  # other settings are refused, not mixed in
        build_thumbnails(stack, out, window=(0, 1000), levels=3)


def test_interrupted_run_leaves_only_complete_files(tmp_path: Path) -> None:
    volume = np.random.default_rng(5).integers(0, 4096, (20, 40, 40), dtype=np.uint16)
    stack = write_stack(tmp_path / "stack", volume)
    out = tmp_path / "out"

    def stop(done: int, total: int) -> None:
        if done >= 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_thumbnails(stack, out, window=(0, 4095), levels=2, workers=2, progress=stop)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert all(".partial" not in p.name for p in files) and len(files) < 1 + 20 + 10
    for p in files:
        if p.suffix == ".png":
            assert np.asarray(Image.open(p)).shape in ((20, 20), (10, 10))  # every file there decodes whole
    killed = out / "1" / ".000007.png.partial-x1y2"  # what a SIGKILL mid-write leaves
    killed.write_bytes(b"\x89PNG half")
    build_thumbnails(stack, out, window=(0, 4095), levels=2)
    assert not killed.exists()
    for got, want in zip(read_levels(out, "png", 2), reference(volume, (0, 4095), False, 2)):
        assert_close(got, want)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ImageNotFoundError):
        build_thumbnails(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnsupportedFormatError):
        build_thumbnails(tmp_path / "empty", tmp_path / "out")
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    tifffile.imwrite(rgb / "a.tif", np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    with pytest.raises(UnsupportedFormatError):
        build_thumbnails(rgb, tmp_path / "out")
    broken = tmp_path / "broken"
    broken.mkdir()
    tifffile.imwrite(broken / "a.tif", np.zeros((8, 8), np.uint16))
    (broken / "b.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(CorruptImageError):
        build_thumbnails(broken, tmp_path / "out2", window=(0, 1))
    mixed = write_stack(tmp_path / "mixed", np.zeros((2, 8, 8), np.uint16))
    tifffile.imwrite(mixed / "s_002.tif", np.zeros((6, 8), np.uint16))
    with pytest.raises(CorruptImageError):
        build_thumbnails(mixed, tmp_path / "out3", window=(0, 1))
    with pytest.raises(UnsupportedFormatError):
        build_thumbnails(mixed, tmp_path / "out4", format="gif")
    assert main(["thumbnails", str(tmp_path / "missing"), str(tmp_path / "o")]) == 2


def test_cli_writes_levels(tmp_path: Path) -> None:
    volume = np.random.default_rng(6).integers(0, 255, (6, 32, 32), dtype=np.uint8)
    stack = write_stack(tmp_path / "stack", volume)
    assert main(["thumbnails", str(stack), str(tmp_path / "out"), "--pair-average", "--window", "0,255",
                 "--format", "tif", "--levels", "2"]) == 0  # fmt: skip
    for got, want in zip(read_levels(tmp_path / "out", "tif", 2), reference(volume, (0, 255), True, 2)):
        assert_close(got, want)
