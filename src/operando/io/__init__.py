"""Readers and writers: TIFF/OME-TIFF/BigTIFF, Zarr, HDF5/NeXus, NPY and folders of frames."""

from ._read import read
from ._write import write

__all__ = ["read", "write"]
