"""openslide-python's API, read by ziggurat: change ``import openslide`` to ``from ziggurat import openslide``.

The implementation lives in :mod:`ziggurat.interop.openslide` (and :mod:`ziggurat.interop.deepzoom`
for :mod:`ziggurat.openslide.deepzoom`); this package only gives it openslide's module names.
"""

from __future__ import annotations

from ..interop.openslide import (
    PROPERTY_NAME_BACKGROUND_COLOR as PROPERTY_NAME_BACKGROUND_COLOR,
)
from ..interop.openslide import PROPERTY_NAME_BARCODE as PROPERTY_NAME_BARCODE
from ..interop.openslide import PROPERTY_NAME_BOUNDS_HEIGHT as PROPERTY_NAME_BOUNDS_HEIGHT
from ..interop.openslide import PROPERTY_NAME_BOUNDS_WIDTH as PROPERTY_NAME_BOUNDS_WIDTH
from ..interop.openslide import PROPERTY_NAME_BOUNDS_X as PROPERTY_NAME_BOUNDS_X
from ..interop.openslide import PROPERTY_NAME_BOUNDS_Y as PROPERTY_NAME_BOUNDS_Y
from ..interop.openslide import PROPERTY_NAME_COMMENT as PROPERTY_NAME_COMMENT
from ..interop.openslide import PROPERTY_NAME_MPP_X as PROPERTY_NAME_MPP_X
from ..interop.openslide import PROPERTY_NAME_MPP_Y as PROPERTY_NAME_MPP_Y
from ..interop.openslide import PROPERTY_NAME_OBJECTIVE_POWER as PROPERTY_NAME_OBJECTIVE_POWER
from ..interop.openslide import PROPERTY_NAME_QUICKHASH1 as PROPERTY_NAME_QUICKHASH1
from ..interop.openslide import PROPERTY_NAME_VENDOR as PROPERTY_NAME_VENDOR
from ..interop.openslide import AbstractSlide as AbstractSlide
from ..interop.openslide import ImageSlide as ImageSlide
from ..interop.openslide import OpenSlide as OpenSlide
from ..interop.openslide import OpenSlideCache as OpenSlideCache
from ..interop.openslide import OpenSlideError as OpenSlideError
from ..interop.openslide import OpenSlideUnsupportedFormatError as OpenSlideUnsupportedFormatError
from ..interop.openslide import OpenSlideVersionError as OpenSlideVersionError
from ..interop.openslide import __library_version__ as __library_version__
from ..interop.openslide import __version__ as __version__
from ..interop.openslide import open_slide as open_slide
