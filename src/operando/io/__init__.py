"""Readers and writers: every file format in one registry (:data:`FORMATS`), read into a Stack."""

from ._formats import FORMATS, FileFormat, format_of, supported
from ._read import assumed_axes, read
from ._write import write

__all__ = ["FORMATS", "FileFormat", "assumed_axes", "format_of", "read", "supported", "write"]
