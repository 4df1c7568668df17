"""Bad input: typed errors naming the file, never a hang or a crash, one line from the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ziggurat
from ziggurat.cli import main as cli_main
from ziggurat.errors import (
    CorruptImageError,
    ImageNotFoundError,
    UnsupportedCodecError,
    UnsupportedFormatError,
    ZigguratError,
)


def test_missing_path() -> None:
    with pytest.raises(ImageNotFoundError, match=r"nowhere\.svs"):
        ziggurat.open("/nowhere.svs")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match="directory"):
        ziggurat.open(tmp_path)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.svs"
    path.write_text("these are not pixels\n" * 50)
    with pytest.raises(UnsupportedFormatError, match=r"notes\.svs"):
        ziggurat.open(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.tif"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedFormatError):
        ziggurat.open(path)


def test_unsupported_codec(tmp_path: Path) -> None:
    path = tmp_path / "codec.tif"
    tifffile.imwrite(path, np.zeros((64, 64), np.uint8), tile=(32, 32))
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags["Compression"].overwrite(60123)
    with pytest.raises((UnsupportedCodecError, CorruptImageError), match=r"codec\.tif"):
        ziggurat.open(path)


def test_corrupt_tile_names_file_and_tile(tmp_path: Path, sample_slide: Path) -> None:
    path = tmp_path / "corrupt.tif"
    shutil.copy(sample_slide, path)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        offset, count = page.dataoffsets[5], page.databytecounts[5]
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\x00" * count)
    with ziggurat.open(path, decoded_cache=False) as image:
        image.read_region((0, 0), 0, (256, 256))  # an intact tile still reads
        with pytest.raises(CorruptImageError, match=r"corrupt.tif.*tile row 0 col 5"):
            image.read_region((5 * 256, 0), 0, (256, 256))


def test_truncated_real_files_never_crash(tmp_path: Path, realdata: Path, sample_slide: Path) -> None:
    """Truncate each file at several points; every read either works or raises a ZigguratError.

    Runs in a child process so that a segfault or a hang would fail the test instead of the run.
    """
    sources = [realdata / "svs/CMU-1-Small-Region.svs", realdata / "svs/tcga-cr-7395-01a-01-ts1.svs",
               realdata / "qptiff/small_vectra.qptiff", realdata / "tiff/kidney-48-5.tif", sample_slide]  # fmt: skip
    copies = []
    for src in sources:
        data = src.read_bytes()
        for fraction in (0.001, 0.02, 0.3, 0.7, 0.97):
            dst = tmp_path / f"{src.stem}-{fraction}{src.suffix}"
            dst.write_bytes(data[: int(len(data) * fraction)])
            copies.append(str(dst))
    script = textwrap.dedent(
        """
        import sys, ziggurat
        from ziggurat.errors import ZigguratError
        outcomes = []
        for path in sys.argv[1:]:
            try:
                with ziggurat.open(path, decoded_cache=False) as image:
                    for level in image.levels:
                        level[:, :]
                    for name in image.associated_images:
                        image.associated_images[name]
                outcomes.append("ok")
            except ZigguratError as exc:
                assert path.rsplit("/", 1)[-1] in str(exc), exc
                outcomes.append(type(exc).__name__)
        print(" ".join(outcomes))
        """
    )
    done = subprocess.run([sys.executable, "-c", script, *copies], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    outcomes = done.stdout.split()
    assert len(outcomes) == len(copies)
    assert outcomes.count("ok") < len(copies)  # truncation was noticed, not silently read


@pytest.mark.parametrize(
    "args",
    [["info", "/no/such/file.svs"], ["info", "/"], ["info", __file__]],
)
def test_cli_errors_are_one_line(args: list[str], capsys: pytest.CaptureFixture) -> None:
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ziggurat: error:") and err.count("\n") == 1


def test_errors_are_also_builtin_types() -> None:
    assert issubclass(ImageNotFoundError, FileNotFoundError)
    assert issubclass(UnsupportedFormatError, ValueError)
    assert issubclass(CorruptImageError, ZigguratError)
