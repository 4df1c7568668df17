"""ML loaders: random 64^3 patches/s from MRI-like volumes and 256^2 slide patches/s at level 0.

``python -m bench ml [--quick] [--volumes N] [--patches N] [--slide WxH]``

Volumes: N generated MRI-like heads (float32 155 x 240 x 240), stored as ``.nii.gz`` (what TorchIO
and MONAI read) and as OME-Zarr with 32^3 chunks (what ziggurat reads). Tools, on the same random
patch positions where the tool lets us choose them:
- ziggurat ``VolumePatches`` through a DataLoader (batch 8), workers 0 and 2 (fork), and through
  ``ziggurat.ml.loader`` (each batch one read, decoded into shared memory by 2 workers, or by 2 threads);
- a plain loop: ``nibabel.load(...).get_fdata()`` then crop (what a patch costs without a chunked store);
- TorchIO ``Queue`` + ``UniformSampler`` and MONAI ``LoadImaged`` + ``RandSpatialCropd`` when installed
  (the ``bench`` extra), workers 0 and 2; not with ``--quick``;
- radiobject's ``create_training_dataloader`` (PATCH mode) over the same ``.nii.gz`` ingested once into a
  local TileDB RadiObject with its ISOTROPIC (64^3) tiles, cached next to them: it draws its own positions
  (seeded by index), so a few of its patches are checked pixel for pixel against ziggurat's at its
  ``patch_start``. Workers 0 and 2 (spawn: TileDB deadlocks after fork; its workers persist across
  epochs, so its epochs get one untimed warm-up). Not with ``--quick`` (importing it costs ~6 s of CPU).
Slides: ``SlidePatches`` at level 0 (random, the same four ways) vs a plain ``openslide.read_region`` loop
at the same locations. Each figure is the median of ``--repeats`` full epochs, worker start-up included
(ziggurat's volume epochs are 8x longer than the slow anchors'; slide tools get one untimed warm-up epoch).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import DATA_DIR, peak_rss_mb, sample_slide

PATCH = 64
BATCH = 8
OURS = 8  # ziggurat's epochs are this many times longer than the anchors' (worker start-up amortised alike)


def _optional(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


def write_volumes(n: int, shape: tuple[int, int, int]) -> tuple[list[Path], list[Path]]:
    """(.nii.gz, OME-Zarr) of ``n`` MRI-like volumes, written once under the bench data folder."""
    import nibabel

    import ziggurat
    from ziggurat.testing.phantom import mri_volume
    from ziggurat.writers.convert import to_omezarr

    folder = DATA_DIR / f"ml-{'x'.join(map(str, shape))}"
    folder.mkdir(parents=True, exist_ok=True)
    gz, stores = [], []
    for k in range(n):
        nii, store = folder / f"vol-{k}.nii.gz", folder / f"vol-{k}.zarr"
        if not store.exists() or not nii.exists():
            volume = mri_volume(shape, seed=k)
            nibabel.save(nibabel.Nifti1Image(volume.T, np.eye(4)), nii)  # NIfTI is x-fastest: (x, y, z)
            to_omezarr(ziggurat.from_array(volume, axes="zyx"), store, chunks=(32, 32, 32))
        gz.append(nii)
        stores.append(store)
    return gz, stores


def throughput(run: Callable[[], int], repeats: int, warmup: bool = False) -> float:
    """Median patches/s of ``run`` (returns how many patches it made), after one untimed run if ``warmup``."""
    if warmup:
        run()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = run()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def loader_epoch(dataset: Any, workers: int, key: str = "image") -> Callable[[], int]:
    from torch.utils.data import DataLoader

    def run() -> int:
        loader = DataLoader(dataset, batch_size=BATCH, num_workers=workers,
                            multiprocessing_context="fork" if workers else None)  # fmt: skip
        return sum(len(batch[key]) for batch in loader)

    return run


def ours(dataset: Any) -> dict[str, Callable[[], int]]:
    """ziggurat's ways to load an epoch: a plain DataLoader (one batched read per batch, then collate),
    and ``ziggurat.ml.loader`` (batches decoded straight into shared memory by workers, or by threads)."""
    from ziggurat.ml import loader

    def batches(**how: Any) -> Callable[[], int]:
        return lambda: sum(len(batch["image"]) for batch in loader(dataset, BATCH, **how))

    return {"ziggurat, workers 0": loader_epoch(dataset, 0), "ziggurat, workers 2": loader_epoch(dataset, 2),
            "ziggurat loader, workers 2": batches(num_workers=2, multiprocessing_context="fork"),
            "ziggurat loader, threads 2": batches(threads=2)}  # fmt: skip


def volume_tools(gz: list[Path], stores: list[Path], patches: int, anchors: bool) -> dict[str, Callable[[], int]]:
    import nibabel

    import ziggurat
    from ziggurat.ml import VolumePatches

    images = [ziggurat.open(s) for s in stores]
    dataset = VolumePatches(images, patch_size=PATCH, samples_per_epoch=patches * OURS, seed=1)
    positions = [dataset.position(i, 0) for i in range(patches)]  # the anchors' (slow) epochs are shorter

    def nibabel_loop() -> int:
        for entry, (z, y, x) in positions:
            data = nibabel.load(gz[entry]).get_fdata(dtype=np.float32)
            block = np.ascontiguousarray(data[x : x + PATCH, y : y + PATCH, z : z + PATCH].T)
            assert block.shape == (PATCH,) * 3
        return len(positions)

    tools = {**ours(dataset), "nibabel load + crop": nibabel_loop}
    tio = _optional("torchio")
    if anchors and tio is not None:
        subjects = tio.SubjectsDataset([tio.Subject(image=tio.ScalarImage(p)) for p in gz])
        for workers in (0, 2):
            sampler = tio.data.UniformSampler(PATCH)
            per_volume = max(patches // len(gz), 1)
            queue = tio.Queue(subjects, max_length=4 * BATCH, samples_per_volume=per_volume, sampler=sampler,
                              num_workers=workers, shuffle_subjects=False)  # fmt: skip
            tools[f"torchio Queue, workers {workers}"] = _torchio_epoch(queue)
    if anchors and _optional("monai") is not None:
        from monai.data import Dataset
        from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, RandSpatialCropd

        transform = Compose([LoadImaged("image"), EnsureChannelFirstd("image"),
                             RandSpatialCropd("image", (PATCH,) * 3, random_size=False)])  # fmt: skip
        files = [{"image": str(gz[entry])} for entry, _ in positions]
        for workers in (0, 2):
            tools[f"monai LoadImaged + RandSpatialCropd, workers {workers}"] = loader_epoch(
                Dataset(files, transform), workers
            )
    if anchors and _optional("radiobject") is not None:
        for workers in (0, 2):
            tools[f"radiobject training loader, workers {workers}"] = _radiobject_epoch(gz, images, patches, workers)
    return tools  # radiobject last: its TileDB context must not exist before the others fork


def radiobject_collection(gz: list[Path]) -> Any:
    """The volumes as a radiobject VolumeCollection, ingested once (ISOTROPIC tiles) beside the ``.nii.gz``."""
    import radiobject
    from radiobject.ctx import SliceOrientation, TileConfig, WriteConfig

    uri = gz[0].parent / f"radiobject-{len(gz)}"
    if not uri.exists():
        radiobject.configure(write=WriteConfig(tile=TileConfig(orientation=SliceOrientation.ISOTROPIC)))
        partial = uri.with_name(uri.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        niftis = [(path, path.name.removesuffix(".nii.gz")) for path in gz]
        radiobject.RadiObject.from_niftis(str(partial), images={"image": niftis})
        partial.rename(uri)
    return radiobject.RadiObject(str(uri)).collection("image")


def check_radiobject(dataset: Any, collection: Any, images: list[Any], count: int = 4) -> None:
    """radiobject's patches are (1, x, y, z) crops at ``patch_start`` (x, y, z): equal to ziggurat's (z, y, x) crop."""
    for index in range(count):
        sample = dataset[index]
        x, y, z = (int(v) for v in sample["patch_start"])
        entry = int(collection.iloc[sample["idx"]].obs_id.split("-")[1].split("_")[0])
        assert sample["image"].shape == (1, PATCH, PATCH, PATCH), sample["image"].shape
        ours = np.asarray(images[entry][z : z + PATCH, y : y + PATCH, x : x + PATCH])
        assert np.array_equal(sample["image"][0].numpy().T, ours), f"radiobject patch {index} differs"


def _radiobject_epoch(gz: list[Path], images: list[Any], patches: int, workers: int) -> Callable[[], int]:
    """An epoch of radiobject's training loader, made on the first (warm-up) call so TileDB starts after our forks."""
    made: list[Any] = []

    def run() -> int:
        if not made:
            from radiobject.ml import create_training_dataloader

            collection = radiobject_collection(gz)
            batches = create_training_dataloader(collection, batch_size=BATCH, patch_size=(PATCH,) * 3,
                                                 num_workers=workers, pin_memory=False,
                                                 patches_per_volume=max(patches // len(gz), 1))  # fmt: skip
            if workers:
                batches.multiprocessing_context = "spawn"
            check_radiobject(batches.dataset, collection, images)
            made.append(batches)
        return sum(len(batch["image"]) for batch in made[0])

    return run


def _torchio_epoch(queue: Any) -> Callable[[], int]:
    from torch.utils.data import DataLoader

    def run() -> int:
        return sum(len(batch["image"]["data"]) for batch in DataLoader(queue, batch_size=BATCH, num_workers=0))

    return run


def slide_tools(path: Path, patches: int, anchors: bool) -> dict[str, Callable[[], int]]:
    import openslide

    import ziggurat
    from ziggurat.ml import SlidePatches

    dataset = SlidePatches([ziggurat.open(path)], patch_size=256, level=0, samples_per_epoch=patches, seed=1)
    locations = [dataset.position(i, 0)[1] for i in range(patches)]

    def openslide_loop() -> int:
        slide = openslide.OpenSlide(str(path))
        for y, x in locations:
            region = np.asarray(slide.read_region((x, y), 0, (256, 256)))[..., :3]
            assert region.shape == (256, 256, 3)
        return len(locations)

    tools = {**ours(dataset), "openslide read_region loop": openslide_loop}
    if anchors and _optional("monai") is not None:
        from monai.data import PatchWSIDataset

        # MONAI's locations are level-0 (row, column) of the top-left corner with center_location=False.
        # Its tifffile backend decodes the whole level for every patch (seconds each on this slide):
        # it gets 2 patches, workers 0 only
        items = [{"image": str(path), "location": [y, x]} for y, x in locations]
        for backend, count, workers_list in (("openslide", len(items), (0, 2)), ("tifffile", 2, (0,))):
            wsi = PatchWSIDataset(items[:count], patch_size=256, patch_level=0, include_label=False,
                                  center_location=False, reader=backend)  # fmt: skip
            for workers in workers_list:
                tools[f"monai PatchWSIDataset ({backend}), workers {workers}"] = loader_epoch(wsi, workers)
    return tools


def long_run(stores: list[Path], patches: int) -> Any:
    import ziggurat
    from ziggurat.ml import VolumePatches

    return VolumePatches([ziggurat.open(s) for s in stores], patch_size=PATCH, samples_per_epoch=patches * OURS, seed=2)


def rss_over_epochs(dataset: Any, epochs: int) -> list[float]:
    """This process's resident MB after each of ``epochs`` epochs through ``loader(threads=2)``."""
    from ziggurat.ml import loader

    page_mb = os.sysconf("SC_PAGE_SIZE") / 1e6
    rss = []
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for batch in loader(dataset, BATCH, threads=2):
            assert batch["image"].shape[0] <= BATCH
        rss.append(int(Path("/proc/self/statm").read_text().split()[1]) * page_mb)
    return rss


def table(title: str, rates: dict[str, float], megabytes: float) -> str:
    ours = rates["ziggurat, workers 0"]
    lines = [f"| {title} | patches/s | MB/s | vs ziggurat workers 0 |", "|---|---|---|---|"]
    lines += [f"| {tool} | {rate:.1f} | {rate * megabytes:.1f} | {rate / ours:.2f}x |" for tool, rate in rates.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ml")
    parser.add_argument("--quick", action="store_true", help="tiny data, few patches (what the test runs)")
    parser.add_argument("--volumes", type=int, default=3)
    parser.add_argument("--patches", type=int, default=96)
    parser.add_argument("--slide", default="40000x30000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the RSS run")
    parser.add_argument("--part", choices=("all", "volumes", "rss", "slides"), default="all")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.quick:
        shape, n, patches, slide_size, repeats = (72, 80, 80), 1, 8, (2000, 1500), 1
        args.epochs = 2
    else:
        shape, n, patches, repeats = (155, 240, 240), args.volumes, args.patches, args.repeats
        slide_size = tuple(int(v) for v in args.slide.split("x"))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"cpus={os.cpu_count()}, load average {load}, batch {BATCH}, {patches} patches per epoch\n")
    gz, stores = write_volumes(n, shape)
    if args.part in ("all", "volumes"):
        tools = volume_tools(gz, stores, patches, not args.quick)
        rates = {tool: throughput(run, repeats, warmup=tool.startswith("radiobject")) for tool, run in tools.items()}
        print(table(f"{PATCH}^3 float32 patches of {n} volumes {shape}", rates, PATCH**3 * 4 / 1e6) + "\n")
    if args.part in ("all", "volumes", "rss"):
        rss = rss_over_epochs(long_run(stores, patches), args.epochs)  # before the slide anchors' whole-level decodes
        print(f"RSS after each of {len(rss)} epochs of {patches * OURS} volume patches (loader, threads 2), MB: "
              + ", ".join(f"{mb:.0f}" for mb in rss) + "\n")  # fmt: skip
    if args.part in ("all", "slides"):
        slide = sample_slide(*slide_size)
        rates = {tool: throughput(run, repeats, warmup=True)
                 for tool, run in slide_tools(slide, patches * 8, not args.quick).items()}  # fmt: skip
        print(table(f"256^2 RGB level-0 patches of a {slide_size[0]} x {slide_size[1]} slide", rates,
                    256 * 256 * 3 / 1e6))  # fmt: skip
    anchors = ("torchio", "monai", "radiobject")
    missing = list(anchors) if args.quick else [m for m in anchors if _optional(m) is None]
    print(f"\npeak RSS {peak_rss_mb():.0f} MB; skipped (not installed, or --quick): {', '.join(missing) or 'none'}")
    return 0
