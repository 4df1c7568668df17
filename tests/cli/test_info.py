"""``ziggurat info``: which backend serves a file and why, and the series of a DICOM media set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ziggurat.cli import main
from ziggurat.sources.registry import backends, load_backend, read_head


def info(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["info", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_reason_is_the_probe_ranking(realdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = realdata / "svs/CMU-1-Small-Region.svs"
    facts = info(capsys, str(path))
    head = read_head(str(path))
    # the ranking info reports is every backend's own probe of the file, best first
    truth = {name: cls.probe(str(path), head) for name in backends() if (cls := load_backend(name)) is not None}
    assert {c["backend"]: c["score"] for c in facts["backend_claims"]} == {n: s for n, s in truth.items() if s}
    assert [c["backend"] for c in facts["backend_claims"]][:2] == ["tiff", "openslide"]
    assert facts["backend"] == "tiff" and facts["backend_reason"].startswith("tiff scored highest")
    forced = info(capsys, "--backend", "openslide", str(path))
    assert forced["backend"] == "openslide" and "forced" in forced["backend_reason"]


def test_media_set_lists_series_and_opens_one(realdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    media = realdata / "dicom/dicomdir-pydicom"
    listing = info(capsys, str(media / "DICOMDIR"))
    smart = next(s for s in listing["series"] if s["description"].startswith("SmartScore"))
    assert (smart["modality"], smart["instances"]) == ("CT", 5)
    opened = info(capsys, "--series", smart["uid"], str(media))
    assert opened["backend"] == "dicomdir" and opened["shape"][0] == 5
    assert main(["info", str(media / "DICOMDIR")]) == 0
    assert "13 series" in capsys.readouterr().out
