"""schemathesis against ``/api/openapi.json``: every operation, a bounded number of examples from a
fixed seed, the ASGI app in-process. No 5xx, and the responses conform to the document (status
codes, content types, JSON bodies). Each generated case also runs with its ``image_id`` replaced by
a served image's, so the parameters reach the pixel code, not only the 404 of an unknown id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ziggurat.server import create_app  # noqa: E402
from ziggurat.server.openapi import schema as document  # noqa: E402

EXAMPLES = 15
#: "a schema-valid request is accepted" cannot hold: a slice, a level or a region's area beyond
#: the image is a 400, and those bounds are the image's, not the document's (its static ones are in it)
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture(scope="module")
def served_ids(tmp_path_factory: pytest.TempPathFactory, sample_slide: Path) -> tuple[object, list[str]]:
    import numpy as np

    import ziggurat
    from ziggurat.writers.nifti import write_nifti

    root = tmp_path_factory.mktemp("schemathesis")
    (root / "slide.tif").write_bytes(sample_slide.read_bytes())
    volume = np.arange(12 * 10 * 8, dtype=np.int16).reshape(12, 10, 8)
    write_nifti(ziggurat.from_array(volume, axes="zyx", spacing=(2.0, 1.0, 1.0)), root / "vol.nii.gz")
    (root / "broken.tif").write_bytes(b"II*\x00" + b"\x00" * 60)
    app = create_app([root], cache="memory://")
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        ids = [item["id"] for item in client.get("/api/images").json()["items"]]
    assert len(ids) == 2, ids
    return app, ids


@pytest.fixture(scope="module")
def api_schema(served_ids: tuple[object, list[str]]) -> Any:
    app, _ = served_ids
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


# schemathesis' own pytest plugin (schema.parametrize) fails on this pytest; hypothesis drives it instead
@pytest.mark.parametrize("path", list(document()["paths"]))
def test_no_operation_answers_5xx_and_every_answer_conforms(path: str, api_schema: Any,
                                                           served_ids: tuple[object, list[str]]) -> None:  # fmt: skip
    _, ids = served_ids
    operation = api_schema[path]["GET"]

    modes = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE

    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in modes)))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])  # fmt: skip
    def check(case: Any) -> None:
        case.call_and_validate(excluded_checks=EXCLUDED)
        if "image_id" in (case.path_parameters or {}):
            for ident in ids:
                case.path_parameters["image_id"] = ident
                case.call_and_validate(excluded_checks=EXCLUDED)

    check()
