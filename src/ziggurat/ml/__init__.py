"""PyTorch datasets of patches, slices and volumes over a Cohort, a view or a list of Images.

Every dataset reads only the stored chunks or tiles a sample touches (never a whole volume for one
patch), opens its images lazily in each worker process (a bounded LRU of open images per process),
pickles as paths plus positions (small), and draws random positions from ``(seed, epoch, index)``:
reproducible, and different every epoch after :meth:`~PatchDataset.set_epoch`. Samples are dicts:
``"image"`` (a tensor, channels first), ``"index"`` (which image of the dataset), ``"location"``
(``(z, y, x)`` level-0 voxels of a volume, ``(x, y)`` level-0 pixels of a slide), ``"subject"``,
``"level"`` and any label columns. :class:`ShardSampler` and :class:`ShardedIterable` shard the
samples over DDP ranks and DataLoader workers so that each is seen once per epoch, and resume mid-epoch.

PyTorch is imported only here (``pip install 'ziggurat[ml]'``); ``import ziggurat`` stays light.
"""

from __future__ import annotations

from .aggregate import GridAggregator
from .base import PatchDataset
from .loader import ThreadLoader, loader
from .patches import read_patches
from .shards import ShardedIterable, ShardSampler, shard_indices
from .slides import SlidePatches, otsu_threshold
from .volumes import VolumePatches, Volumes, VolumeSlices

__all__ = ["GridAggregator", "PatchDataset", "ShardSampler", "ShardedIterable", "SlidePatches", "ThreadLoader",
           "VolumePatches", "VolumeSlices", "Volumes", "loader", "otsu_threshold", "read_patches",
           "shard_indices"]  # fmt: skip
