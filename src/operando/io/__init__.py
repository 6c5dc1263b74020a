"""Readers and writers: every file format in one registry (:data:`FORMATS`), read into a Stack."""

from ._energy_tiff import read_energy_tiff, write_energy_tiff
from ._formats import FORMATS, FileFormat, format_of, supported
from ._ngff import ngff_axes, write_ome_image
from ._nxstxm import read_nxstxm, write_nxstxm
from ._read import STANDARD_NAMES, LazyArray, assumed_axes, axes_from_names, increasing_times, read
from ._sequence import read_sequence
from ._stxm import read_stxm
from ._write import write
from ._zarr import EVERY_CHUNK, STREAM_MANIFEST

__all__ = [
    "EVERY_CHUNK", "STANDARD_NAMES", "STREAM_MANIFEST", "LazyArray", "axes_from_names",
    "FORMATS", "FileFormat", "assumed_axes", "format_of", "increasing_times", "read", "read_energy_tiff",
    "read_nxstxm", "read_sequence",
    "ngff_axes", "read_stxm",
    "supported", "write", "write_energy_tiff", "write_nxstxm", "write_ome_image",
]
