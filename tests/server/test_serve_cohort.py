"""``ziggurat serve COHORT`` against a real uvicorn: a cohort of BIDS volumes (realdata NIfTIs) and
referenced slides is listed image by image with its subjects (truth: the Parquet tables read by
pandas), filtered in SQL (truth: pandas' selection), tiles of its images are served, bad SQL is 400."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from ziggurat.cohort import ingest
from ziggurat.cohort.store import current_tables
from ziggurat.server import create_app
from ziggurat.server.catalog import image_id
from ziggurat.server.thread import live_server
from ziggurat.testing.cohorts import write_bids, write_slide_folder


@pytest.fixture(scope="module")
def study(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cohort of 4 subjects x (T1w, FLAIR) volumes stored as OME-Zarr plus 2 slides of 1 patient."""
    base = tmp_path_factory.mktemp("serve-cohort")
    bids = write_bids(base / "bids", [realdata / "nifti" / "anatomical.nii"], subjects=4)
    slides, manifest = write_slide_folder(base / "slides", slides=2, size=(600, 400))
    out = base / "study"
    assert ingest(bids, out, workers=1).bad == []
    assert ingest(slides, out, manifest=manifest, workers=1).bad == []
    return out


@pytest.fixture(scope="module")
def tables(study: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohort's subjects and images tables, read from Parquet by pandas (not through ziggurat)."""
    where = current_tables(study)
    return pd.read_parquet(where.subjects), pd.read_parquet(where.images)


@pytest.fixture(scope="module")
def client(study: Path) -> Iterator[httpx.Client]:
    with live_server(create_app([study], cache="memory://")) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def listing(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/images", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["items"])
    items: list[dict[str, Any]] = page["items"]
    return items


def test_every_cohort_image_is_listed_with_its_subject(
    client: httpx.Client, tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    subjects, images = tables
    items = listing(client)
    assert len(images) == 10  # 4 x 2 volumes + 2 slides; no .zarr store is listed twice
    got = {i["cohort"]["image_id"]: i for i in items}
    assert sorted(got) == sorted(images.image_id)
    for row in images.itertuples():
        item = got[row.image_id]
        assert item["id"] == image_id(f"study/{row.image_id}") and item["name"] == f"study/{row.image_id}"
        assert (item["cohort"]["subject_id"], item["cohort"]["modality"]) == (row.subject_id, row.modality)
        assert item["cohort"]["id"] == image_id("study")
        assert item["format"].startswith("ome-zarr") == bool(row.stored)  # volumes stored, slides referenced
    ages = subjects.set_index("subject_id")["age"]
    for item in items:
        age = ages[item["cohort"]["subject_id"]]
        assert item["cohort"]["columns"]["age"] == (None if pd.isna(age) else age)


@pytest.mark.parametrize(
    ("where", "truth"),
    [
        ("age > 40", lambda s, i: i.subject_id.isin(s.subject_id[s.age > 40])),
        (
            "modality = 'FLAIR' AND sex = 'F'",
            lambda s, i: (i.modality == "FLAIR") & i.subject_id.isin(s.subject_id[s.sex == "F"]),
        ),
        ("modality = 'slide'", lambda s, i: i.modality == "slide"),
    ],
)
def test_where_returns_exactly_what_pandas_selects(
    client: httpx.Client, tables: tuple[pd.DataFrame, pd.DataFrame], where: str, truth: Any
) -> None:
    subjects, images = tables
    expected = images[truth(subjects, images)]
    assert 0 < len(expected) < len(images)  # the filter does select
    items = listing(client, cohort=image_id("study"), where=where)
    assert sorted(i["cohort"]["image_id"] for i in items) == sorted(expected.image_id)
    assert {i["cohort"]["subject_id"] for i in items} == set(expected.subject_id)


def test_tiles_of_cohort_images_are_served(client: httpx.Client, tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    from PIL import Image as PILImage

    _, images = tables
    for modality in ("T1w", "slide"):
        row = images[images.modality == modality].iloc[0]
        ident = image_id(f"study/{row.image_id}")
        tile = client.get(f"/api/images/{ident}_files/0/0_0.png")
        assert tile.status_code == 200, tile.text
        assert np.asarray(PILImage.open(io.BytesIO(tile.content))).shape[:2] == (1, 1)
        thumb = client.get(f"/api/images/{ident}/thumbnail", params={"max": 64})
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"where": "age >"}, 400),  # a parser error
        ({"where": "no_such_column = 1"}, 400),  # a binder error
        ({"where": "sex > 3"}, 400),  # a conversion error
        ({"where": "1=1; COPY (SELECT 42) TO 'pwned.csv'"}, 400),  # a second statement
        ({"where": "EXISTS (SELECT 1 FROM read_text('/etc/hostname'))"}, 400),  # files stay unread
        ({"where": "age IN (SELECT age FROM subjects)"}, 400),
        ({"where": "1=1 ORDER BY 1"}, 400),
        ({"where": "age > 40", "cohort": None}, 400),  # where without cohort
        ({"cohort": "0123456789abcdef"}, 404),
    ],
)
def test_bad_sql_is_400_with_duckdbs_message(client: httpx.Client, params: dict[str, Any], status: int) -> None:
    query = {"cohort": image_id("study"), **params}
    response = client.get("/api/images", params={k: v for k, v in query.items() if v is not None})
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["error"] and "Traceback" not in response.text
    if "where" in query and query.get("cohort"):
        assert "where" in body["error"]
    assert not Path("pwned.csv").exists()


def test_an_append_shows_up_and_a_broken_cohort_lists_nothing(tmp_path: Path) -> None:
    first, manifest = write_slide_folder(tmp_path / "two", slides=2, size=(300, 200))
    study = ingest(first, tmp_path / "grows", manifest=manifest, workers=1).root
    with live_server(create_app([study], cache="memory://", rescan_seconds=0)) as url:
        assert len(httpx.get(f"{url}/api/images").json()["items"]) == 2
        more, manifest = write_slide_folder(tmp_path / "four", slides=4, size=(300, 200))
        assert ingest(more, study, manifest=manifest, workers=1).added == 2  # slide-002, slide-003 are new
        images = pd.read_parquet(current_tables(study).images)
        items = httpx.get(f"{url}/api/images").json()["items"]
        assert sorted(i["cohort"]["image_id"] for i in items) == sorted(images.image_id) and len(items) == 4
        (study / "cohort.json").write_text("{not json")
        response = httpx.get(f"{url}/api/images")
        assert response.status_code == 200 and response.json()["items"] == []
