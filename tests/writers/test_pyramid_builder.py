"""Out-of-core pyramids vs NumPy references computed in memory: 2-D, 3-D, labels, inputs, atomicity, bad input."""

from __future__ import annotations

import collections
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

import ziggurat
from ziggurat.errors import ImageNotFoundError, UnsupportedFormatError
from ziggurat.io.atomic import OutputExistsError
from ziggurat.writers.omezarr.builder import build_pyramid, plan


def mean_ref(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """2x mean along ``axes`` in float64 (odd edges repeated), rounded half up."""
    pad = [(0, a.shape[i] % 2 if i in axes else 0) for i in range(a.ndim)]
    f = np.pad(a.astype(np.float64), pad, mode="edge")
    shape = [s for i, n in enumerate(f.shape) for s in ((n // 2, 2) if i in axes else (n,))]
    red = tuple(i + k + 1 for k, i in enumerate(sorted(axes)))
    return np.floor(f.reshape(shape).mean(axis=red) + 0.5).astype(a.dtype)


def mode_ref(a: np.ndarray) -> np.ndarray:
    """2x2x2 mode by counting in Python (smallest value on ties)."""
    f = np.pad(a, [(0, n % 2) for n in a.shape], mode="edge")
    out = np.empty([n // 2 for n in f.shape], a.dtype)
    for z, y, x in itertools.product(*(range(n) for n in out.shape)):
        counts = collections.Counter(f[2 * z : 2 * z + 2, 2 * y : 2 * y + 2, 2 * x : 2 * x + 2].ravel().tolist())
        top = max(counts.values())
        out[z, y, x] = min(v for v, c in counts.items() if c == top)
    return out


def levels_of(out: Path) -> list[np.ndarray]:
    group = zarr.open_group(out, mode="r")
    n = len(group.attrs["ome"]["multiscales"][0]["datasets"])
    return [group[str(i)][:] for i in range(n)]


def ngff_valid(out: Path) -> None:
    """The output passes the NGFF 0.5 image schema (ome-zarr-models), an independent check."""
    models = pytest.importorskip("ome_zarr_models.v05.image")
    models.Image.from_zarr(zarr.open_group(out, mode="r"))


def write_zarr(path: Path, array: np.ndarray, chunks=(64, 64, 64), zarr_format: int = 3) -> Path:
    stored = zarr.create_array(path, shape=array.shape, dtype=array.dtype, chunks=chunks, zarr_format=zarr_format)
    stored[:] = array
    return path


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 65535, (150, 133, 97), dtype=np.uint16)


@pytest.mark.parametrize("memory", [2**20, 2**30], ids=["tight-budget", "roomy"])
def test_3d_mean_matches_numpy(tmp_path: Path, volume: np.ndarray, memory: int) -> None:
    out = build_pyramid(write_zarr(tmp_path / "in.zarr", volume), tmp_path / "out.zarr", memory=memory)
    got = levels_of(out)
    ref = volume
    for level in got:
        np.testing.assert_array_equal(level, ref)
        ref = mean_ref(ref, (0, 1, 2))
    assert max(got[-1].shape) <= 64 and max(got[-2].shape) > 64
    ome = zarr.open_group(out).attrs["ome"]
    assert ome["version"] == "0.5"
    ngff_valid(out)
    assert ome["multiscales"][0]["datasets"][2]["coordinateTransformations"][0]["scale"] == [4.0, 4.0, 4.0]
    # ziggurat reads its own output back as a volume
    assert ziggurat.open(out).levels[1][3:9, 4, 5:7].tolist() == got[1][3:9, 4, 5:7].tolist()


def test_tight_budget_uses_several_passes(volume: np.ndarray) -> None:
    roomy = plan(volume.shape, volume.dtype, "zyx", memory=2**30, workers=2)
    tight = plan(volume.shape, volume.dtype, "zyx", memory=64 * 2**20, workers=2)
    assert len(tight.passes) > len(roomy.passes) >= 1
    assert tight.workers == 2 and 2 * 4 * tight.task_bytes(tight.passes[0]) <= 32 * 2**20
    tiny = plan(volume.shape, volume.dtype, "zyx", memory=2**20, workers=2)  # below one task: one at a time
    assert tiny.workers == 1 and tiny.passes[0].block == (128, 128, 128)


def test_labels_mode_and_nearest(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, (70, 66, 9), dtype=np.uint32) * 1000
    src = write_zarr(tmp_path / "labels.zarr", labels, chunks=(32, 32, 9))
    mode = levels_of(build_pyramid(src, tmp_path / "mode.zarr", method="mode"))
    np.testing.assert_array_equal(mode[1], mode_ref(labels))
    assert set(np.unique(mode[1])) <= {0, 1000, 2000, 3000}  # no invented label values
    nearest = levels_of(build_pyramid(src, tmp_path / "nearest.zarr", method="nearest"))
    np.testing.assert_array_equal(nearest[1], labels[::2, ::2, ::2])
    assert zarr.open_group(tmp_path / "mode.zarr").attrs["ome"]["multiscales"][0]["type"] == "mode"


def test_2d_slide_levels(tmp_path: Path, sample_slide: Path) -> None:
    image = ziggurat.open(sample_slide)
    base = image.levels[0][:, :]
    got = levels_of(build_pyramid(sample_slide, tmp_path / "slide.zarr"))
    ref = np.moveaxis(base, -1, 0)  # c y x
    for level in got:
        np.testing.assert_array_equal(level, ref)
        ref = mean_ref(ref, (1, 2))
    assert max(got[-1].shape[1:]) <= 512
    axes = [a["name"] for a in zarr.open_group(tmp_path / "slide.zarr").attrs["ome"]["multiscales"][0]["axes"]]
    assert axes == ["c", "y", "x"]
    ngff_valid(tmp_path / "slide.zarr")


def test_volume_object_and_zarr_v2_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    array = rng.integers(0, 255, (40, 130, 70), dtype=np.uint8)
    v2_input = write_zarr(tmp_path / "v2.zarr", array, (16, 16, 16), zarr_format=2)
    v2 = levels_of(build_pyramid(v2_input, tmp_path / "a.zarr"))
    vol = ziggurat.from_array(array, axes="zyx", spacing=(2.0, 0.5, 0.5))
    obj = levels_of(build_pyramid(vol, tmp_path / "b.zarr"))
    np.testing.assert_array_equal(v2[1], mean_ref(array, (0, 1, 2)))
    for a, b in zip(v2, obj):
        np.testing.assert_array_equal(a, b)
    scale = zarr.open_group(tmp_path / "b.zarr").attrs["ome"]["multiscales"][0]["datasets"][1]
    assert scale["coordinateTransformations"][0]["scale"] == [4.0, 1.0, 1.0]


def test_halve_yx_chunks_codec_and_metadata(tmp_path: Path) -> None:
    """What convert asks of the builder: z kept, a chunk preset, a level cap, lz4hc-9, the affine and extras."""
    from ziggurat.sources.base import Metadata

    rng = np.random.default_rng(9)
    array = rng.integers(0, 4000, (5, 300, 260), dtype=np.int16)
    affine = np.array([[0.5, 0, 0, -3], [0, 0.5, 0, 4], [0, 0, 3.0, 5], [0, 0, 0, 1]])
    meta = Metadata("array", "zyx", (3.0, 0.5, 0.5), affine=affine, extra={"nifti": {"version": 1}})
    out = build_pyramid(array, tmp_path / "c.zarr", halve="yx", chunks="axial", levels=2, min_size=64,
                        compression="lz4hc-9", meta=meta, workers=2)  # fmt: skip
    got = levels_of(out)
    assert len(got) == 2  # capped (else 3: 300 x 260 -> 150 x 130 -> 75 x 65, the last above 64)
    np.testing.assert_array_equal(got[0], array)
    np.testing.assert_array_equal(got[1], mean_ref(array, (1, 2)))  # z kept: 5 slices stay 5
    level1 = json.loads((out / "1" / "zarr.json").read_text())
    sharding = level1["codecs"][0]["configuration"]
    assert sharding["chunk_shape"] == [1, 150, 130]  # axial: one whole slice per chunk on every level
    assert sharding["codecs"][1]["configuration"]["cname"] == "lz4hc"
    assert sharding["codecs"][1]["configuration"]["clevel"] == 9
    attrs = zarr.open_group(out, mode="r").attrs
    scales = [d["coordinateTransformations"][0]["scale"] for d in attrs["ome"]["multiscales"][0]["datasets"]]
    assert scales == [[3.0, 0.5, 0.5], [3.0, 1.0, 1.0]]
    assert attrs["ziggurat"] == {"affine": affine.tolist(), "nifti": {"version": 1}}
    ngff_valid(out)


def test_n5_and_fsspec_url_inputs(tmp_path: Path) -> None:
    ts = pytest.importorskip("tensorstore")
    array = np.arange(70 * 80 * 90, dtype=np.uint16).reshape(70, 80, 90)
    n5 = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(tmp_path / "em.n5")},
                  "metadata": {"dimensions": list(array.shape), "blockSize": [32, 32, 32], "dataType": "uint16",
                               "compression": {"type": "gzip"}}}, create=True).result()  # fmt: skip
    n5.write(array).result()
    url = f"memory://{tmp_path.name}/em.zarr"
    write_zarr(url, array, (32, 32, 32))
    for source, name in ((tmp_path / "em.n5", "n5.zarr"), (url, "url.zarr")):
        got = levels_of(build_pyramid(source, tmp_path / name))
        np.testing.assert_array_equal(got[0], array)
        np.testing.assert_array_equal(got[1], mean_ref(array, (0, 1, 2)))


def test_interrupted_run_leaves_nothing_complete(tmp_path: Path, volume: np.ndarray) -> None:
    src = write_zarr(tmp_path / "in.zarr", volume)

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_pyramid(src, tmp_path / "out.zarr", memory=2**20, progress=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.zarr"]
    build_pyramid(src, tmp_path / "out.zarr")
    with pytest.raises(OutputExistsError):
        build_pyramid(src, tmp_path / "out.zarr", overwrite=False)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ImageNotFoundError):
        build_pyramid(tmp_path / "missing.zarr", tmp_path / "o.zarr")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(UnsupportedFormatError):
        build_pyramid(text, tmp_path / "o.zarr")
    src = write_zarr(tmp_path / "in.zarr", np.zeros((8, 8, 8), np.uint8))
    with pytest.raises(UnsupportedFormatError):
        build_pyramid(src, tmp_path / "o.zarr", method="median")
    with pytest.raises(UnsupportedFormatError):
        build_pyramid(write_zarr(tmp_path / "1d.zarr", np.zeros(100, np.uint8), (10,)), tmp_path / "o.zarr")
    assert not (tmp_path / "o.zarr").exists()


MEMORY_CHILD = r"""
import json, re, sys
import numpy as np, psutil, zarr
from ziggurat.writers.omezarr.builder import build_pyramid
warm = zarr.create_array(sys.argv[2] + ".warm", shape=(70, 70, 70), dtype=np.uint8, chunks=(64, 64, 64), overwrite=True)
warm[:] = 1
build_pyramid(sys.argv[2] + ".warm", sys.argv[2] + ".warm-out")  # loads every library and codec once
base = psutil.Process().memory_info().rss // 1024  # now (not the transient peak of the warm-up)
build_pyramid(sys.argv[1], sys.argv[2], memory=int(sys.argv[3]))
# VmHWM, not ru_maxrss: the latter keeps the forking parent's high-water mark across exec
peak = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"base_kb": base, "peak_kb": peak}))
"""


def test_memory_stays_under_a_small_budget(tmp_path: Path) -> None:
    edge, budget = 512, 64 * 2**20  # a 134 MB volume, a 64 MB budget (1 GB would use 16 MB blocks: ~97 MB)
    src = zarr.create_array(tmp_path / "big.zarr", shape=(edge,) * 3, dtype=np.uint8, chunks=(64, 64, 64))
    rng = np.random.default_rng(1)
    for z in range(0, edge, 64):
        src[z : z + 64] = rng.integers(0, 255, (64, edge, edge), dtype=np.uint8)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(tmp_path / "big.zarr"), str(tmp_path / "o.zarr"),
                           str(budget)], capture_output=True, text=True, env=env, check=True)  # fmt: skip
    report = json.loads(done.stdout)
    grew = (report["peak_kb"] - report["base_kb"]) * 1024
    assert grew < budget, f"peak RSS grew by {grew / 2**20:.1f} MB over a {budget / 2**20:.0f} MB budget"
    assert zarr.open_group(tmp_path / "o.zarr")["0"].shape == (edge,) * 3


def test_cli_pyramid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ziggurat.cli import main
    from ziggurat.cli.pyramid import parse_bytes

    assert parse_bytes("2GB") == 2 * 10**9 and parse_bytes("512MiB") == 512 * 2**20 and parse_bytes("1.5k") == 1500
    labels = np.random.default_rng(9).integers(0, 3, (80, 70, 66), dtype=np.uint8)
    src = write_zarr(tmp_path / "labels.zarr", labels)
    assert main(["pyramid", str(src), str(tmp_path / "o.zarr"), "--method", "mode", "--memory", "64MB"]) == 0
    np.testing.assert_array_equal(levels_of(tmp_path / "o.zarr")[1], mode_ref(labels))
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["pyramid", str(src), str(tmp_path / "p.zarr"), "--memory", "12 parsecs"])
    assert main(["pyramid", str(tmp_path / "nope.zarr"), str(tmp_path / "p.zarr")]) == 2
    assert not (tmp_path / "p.zarr").exists()
