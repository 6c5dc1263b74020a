"""X-ray spectromicroscopy (STXM, TXM): optical density, alignment, composition with uncertainty."""
