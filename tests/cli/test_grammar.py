"""The one CLI grammar (docs/cli.md): overwrite, quiet, metrics, suffixes, defaults, volumes, warnings, ports."""

from __future__ import annotations

import argparse
import json
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ziggurat.cli import build_parser, main
from ziggurat.testing.sample import ct_volume, write_stack

SHAPE = (6, 40, 48)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_stack(tmp_path_factory.mktemp("grammar") / "stack", SHAPE)


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = dict(sub.choices)
    sample = found.pop("sample")
    (kinds,) = (a for a in sample._actions if isinstance(a, argparse._SubParsersAction))
    found.update({f"sample {k}": p for k, p in kinds.choices.items()})
    return found


@pytest.mark.parametrize("command", sorted(_commands()))
def test_help_shows_every_meaningful_default(command: str) -> None:
    parser = _commands()[command]
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if action.option_strings and action.help != argparse.SUPPRESS and action.default not in (None, False):
            if action.default == argparse.SUPPRESS:
                continue
            shown = "x".join(map(str, action.default)) if isinstance(action.default, tuple) else str(action.default)
            assert f"(default: {shown})" in text or f"(default: {shown.replace('x', ',')})" in text, (
                command,
                action.option_strings,
            )
    assert "--workers" not in text and "--encoding" not in text  # the old names are hidden aliases


def test_sample_slide_help_says_how_big() -> None:
    assert "(default: 40000x30000)" in " ".join(_commands()["sample slide"].format_help().split())


@pytest.mark.parametrize(
    ("command", "output", "extra", "made"),
    [
        ("convert", "v.zarr", [], ["v.zarr"]),
        ("pyramid", "p.zarr", [], ["p.zarr"]),
        ("dzi", "d", [], ["d.dzi", "d_files"]),
        ("thumbnails", "t", [], ["t"]),
    ],
)
def test_every_writer_refuses_an_existing_output_unless_overwrite(
    stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, output: str,
    extra: list[str], made: list[str],
) -> None:  # fmt: skip
    out = tmp_path / output
    argv = [command, str(stack), str(out), *extra]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("wrote ")
    assert all((tmp_path / m).exists() for m in made)
    stamp = [(tmp_path / m).stat().st_mtime_ns for m in made]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists (use --overwrite to replace it)" in err
    assert [(tmp_path / m).stat().st_mtime_ns for m in made] == stamp  # untouched
    metrics = tmp_path / "m.json"
    assert main([*argv, "--overwrite", "--quiet", "--metrics", str(metrics)]) == 0
    assert capsys.readouterr().out == ""
    facts = json.loads(metrics.read_text())
    assert facts["command"] == command and facts["input"] == str(stack) and facts["output"] == str(out)
    assert facts["seconds"] > 0


def test_thumbnails_resume_keeps_what_exists(stack: Path, tmp_path: Path) -> None:
    out = tmp_path / "t"
    assert main(["thumbnails", str(stack), str(out), "-q"]) == 0
    first = sorted(p.name for p in (out / "1").iterdir())
    assert main(["thumbnails", str(stack), str(out), "-q", "--resume"]) == 0
    assert sorted(p.name for p in (out / "1").iterdir()) == first


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["convert", "{stack}", "{tmp}/x.txt"], "must end in .zarr or .nii or .nii.gz"),
        (["pyramid", "{stack}", "{tmp}/x.nii"], "must end in .zarr"),
        (["dzi", "{stack}", "{tmp}/x.png"], "the output of dzi must have no suffix or end in .dzi"),
        (["tile", "{stack}", "0", "0", "0", "{tmp}/x.txt"], "a jpeg tile must end in .jpg or .jpeg"),
        (["tile", "{stack}", "0", "0", "0", "{tmp}/x.png", "--format", "webp"], "must end in .webp"),
        (["thumbnails", "{stack}", "{tmp}/x.zarr"], "(a folder) must have no suffix"),
    ],
)
def test_an_output_suffix_of_another_format_is_refused(
    stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    filled = [a.format(stack=stack, tmp=tmp_path) for a in argv]
    assert main(filled) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written


def _window(plane: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The style's windowing by hand: clip((v - lo) / (hi - lo)) * 255, rounded."""
    return np.rint(np.clip((plane.astype(np.float64) - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def test_tile_and_dzi_draw_the_asked_plane_of_a_volume(stack: Path, tmp_path: Path) -> None:
    import imageio.v3 as iio

    volume = ct_volume(SHAPE)  # what write_stack wrote, z y x
    style = '{"min": 500, "max": 2500}'
    # coronal plane y = 17: rows z, columns x; 48 px wide -> DeepZoom level 6 is full resolution
    assert main(["tile", str(stack), "6", "0", "0", str(tmp_path / "c.png"), "--axis", "coronal",
                 "--slice", "17", "--style", style]) == 0  # fmt: skip
    want = _window(volume[:, 17, :], 500, 2500)
    np.testing.assert_array_equal(iio.imread(tmp_path / "c.png")[..., 0], want)
    assert main(["dzi", str(stack), str(tmp_path / "s"), "--axis", "x", "--slice", "3", "--style", style,
                 "--format", "png", "-q"]) == 0  # fmt: skip
    got = iio.imread(tmp_path / "s_files" / "6" / "0_0.png")[..., 0]
    np.testing.assert_array_equal(got, _window(volume[:, :, 3], 500, 2500))


def test_tile_of_a_4d_image_takes_the_time_point(tmp_path: Path) -> None:
    import imageio.v3 as iio

    nib = pytest.importorskip("nibabel")
    data = np.zeros((8, 6, 4, 2), np.int16)  # x y z t
    data[..., 1] = 1000
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "f.nii")
    style = '{"min": 0, "max": 1000}'
    for t, want in ((0, 0), (1, 255)):
        out = tmp_path / f"t{t}.png"
        assert main(["tile", str(tmp_path / "f.nii"), "3", "0", "0", str(out), "--t", str(t), "--style", style]) == 0
        assert (iio.imread(out) == want).all()


@pytest.mark.parametrize("name", ["tiff/pathml_smalltif.tif", "ome-tiff/multi-channel-z-series.ome.tif"])
def test_dzi_renders_16_bit_and_int8_with_the_default_style(realdata: Path, tmp_path: Path, name: str) -> None:
    # uint16 used to answer "render with a style first"; int8 crashed with an OverflowError
    assert main(["dzi", str(realdata / name), str(tmp_path / "o"), "-q"]) == 0
    import imageio.v3 as iio

    deepest = max((tmp_path / "o_files").iterdir(), key=lambda p: int(p.name))
    tile = iio.imread(deepest / "0_0.jpg")
    assert (tmp_path / "o.dzi").exists() and tile.std() > 5  # drawn with an auto window, not flat


def test_dzi_and_tile_on_a_nifti(realdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nifti = realdata / "nifti" / "example4d.nii.gz"
    assert main(["dzi", str(nifti), str(tmp_path / "n"), "--t", "1", "--axis", "sagittal", "-q"]) == 0
    assert main(["tile", str(nifti), "4", "0", "0", str(tmp_path / "n.jpg")]) == 0
    assert "internal error" not in capsys.readouterr().err


def test_renamed_options_still_work_with_one_warning_line(
    sample_slide: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.png"
    assert main(["tile", str(sample_slide), "10", "0", "0", "-o", str(out), "--encoding", "png"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert capsys.readouterr().err == "ziggurat: warning: --encoding is now --format\n"
    args = build_parser().parse_args(["serve", "x", "--workers", "3"])
    assert args.processes == 3
    assert capsys.readouterr().err == "ziggurat: warning: --workers is now --processes\n"


def test_python_warnings_print_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ziggurat.testing.sample as sample

    def write_volume(out: str, shape: tuple[int, int, int]) -> Path:
        warnings.warn("the phantom is small", UserWarning, stacklevel=1)
        tifffile.imwrite(out, np.zeros(shape, np.uint16))
        return Path(out)

    monkeypatch.setattr(sample, "write_volume", write_volume)
    assert main(["sample", "volume", str(tmp_path / "v.tif"), "--shape", "2x4x4"]) == 0
    assert capsys.readouterr().err == "ziggurat: warning: the phantom is small\n"


def test_a_busy_port_is_one_error_line_and_exit_2(sample_slide: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(sample_slide), "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert "open http" not in captured.out
    assert captured.err == (
        f"ziggurat: error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(pick another --port, or --port 0)\n"
    )


@pytest.mark.parametrize(
    ("command", "output", "label"),
    [("convert", "v.zarr", "writing"), ("dzi", "d", "tiles")],  # the bytes bar and the count bar
)
def test_progress_goes_to_stderr_and_results_to_stdout(
    stack: Path, tmp_path: Path, command: str, output: str, label: str
) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "100"}  # rich draws its bar as on a terminal
    argv = [sys.executable, "-m", "ziggurat.cli", command, str(stack), str(tmp_path / output)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=True)
    assert done.stdout.count("\n") == 1 and done.stdout.startswith("wrote ")
    assert label in done.stderr and "\x1b[" in done.stderr
    quiet = subprocess.run([*argv, "--overwrite", "-q"], capture_output=True, text=True, env=env, timeout=120)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
