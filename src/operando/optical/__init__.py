"""Optical microscopy of graphite: colour processing, particle segmentation and staging."""
