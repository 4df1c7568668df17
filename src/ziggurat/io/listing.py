"""The images under an object-store prefix, from one listing (what ``ziggurat serve s3://…`` shows).

Objects with a slide or TIFF suffix are images; a ``*.zarr`` prefix holding ``zarr.json`` or
``.zattrs`` is one image (an OME-Zarr store or a Zarr array) and is not descended into. Nothing
is opened: the listing's ETags and sizes are the versions, so a changed object is reopened.
"""

from __future__ import annotations

from .locations import parse
from .opening import recent
from .remote import store_for

FILE_SUFFIXES = (".svs", ".tif", ".tiff", ".btf", ".ndpi", ".scn", ".qptiff", ".ome.tif", ".ome.tiff")
STORE_SUFFIXES = (".zarr", ".ome.zarr")
STORE_MARKERS = ("zarr.json", ".zattrs", ".zarray")


def list_images(url: str) -> list[tuple[str, str, str]]:
    """(name, URL, version) of each image under ``url``, by name; names start with the prefix's own name."""
    root = parse(url)
    prefix = root.key.strip("/")
    base = f"{prefix}/" if prefix else ""
    label = prefix.rsplit("/", 1)[-1] if prefix else root.netloc
    objects = dict(store_for(root).walk(base))
    stores: dict[str, str] = {}
    for key, version in objects.items():
        folder, _, leaf = key.rpartition("/")
        if leaf in STORE_MARKERS and folder.endswith(STORE_SUFFIXES) and folder.startswith(base.rstrip("/")):
            stores[folder] = max(version, stores.get(folder, ""))
    outer = {s for s in stores if not any(s != o and s.startswith(o + "/") for o in stores)}
    found = [(key, version) for key, version in objects.items() if key.lower().endswith(FILE_SUFFIXES)
             and not any(key.startswith(s + "/") for s in outer)]  # fmt: skip
    found += [(s, stores[s]) for s in outer]
    return sorted((f"{label}/{key[len(base) :]}", root.child(key[len(base) :]).url, version) for key, version in found)


def objects_in(url: str) -> list[tuple[str, int]]:
    """(URL, size) of the objects directly under the prefix ``url``, by key: one LIST, shared for a
    few seconds (the probe and the open of a DICOM series' prefix list it once)."""
    root = parse(url)
    prefix = f"{root.key.strip('/')}/" if root.key.strip("/") else ""
    listed = recent("children", root.url, lambda: store_for(root).children(prefix))
    return sorted((root.child(key[len(prefix) :]).url, size) for key, size in listed)
