"""Checks of the STXM pipeline's input, before any work is done: energies, axes, references, denoisers, I0."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._stack import Stack
from ...xray import check_energy_list
from ._config import CompositionConfig, i0_region


def _select_energies(stack: Stack, wanted: list[float] | None) -> tuple[list[int], list[float]]:
    energies = list(stack.metadata.energies or [])
    if not energies:
        raise InputError(f"{stack.metadata.source or 'input'}: the stack records no energies; composition needs "
                         "the energy of every image: read an STXM .hdr or NXstxm file, or a TIFF with its energy "
                         "list beside it (same name, .txt, one eV per line)")
    if wanted is None:
        return list(range(len(energies))), energies
    try:
        check_energy_list(wanted)
    except ValueError as exc:
        raise InputError(f"--energies {','.join(f'{v:g}' for v in wanted)}: {exc}") from None
    picks = []
    for e in wanted:
        i = int(np.argmin(np.abs(np.asarray(energies) - e)))
        if abs(energies[i] - e) > 0.3:
            raise InputError(f"energy {e:g} eV is not in the stack (energies: {[round(v, 2) for v in energies]}); "
                             "choose from those with --energies")
        if i in picks:
            raise InputError(f"energies {wanted[picks.index(i)]:g} and {e:g} eV both pick the stack's image at "
                             f"{energies[i]:g} eV; give each energy of the stack once (energies: "
                             f"{[round(v, 2) for v in energies]})")
        picks.append(i)
    return picks, [energies[i] for i in picks]


def energy_stack(stack: Stack) -> Stack:
    """Return ``stack`` with axes ``EYX`` or ``TEYX`` (a single ``YX`` image is one energy).

    Parameters
    ----------
    stack : Stack
        Counts read from a file.

    Returns
    -------
    Stack
        The same data, axes reordered to ``EYX`` / ``TEYX``.

    Raises
    ------
    InputError
        If the stack has no energy axis (e.g. a TIFF read as a ``TYX`` video), saying which axes to give.
    """
    if stack.axes in ("EYX", "TEYX"):
        return stack
    if stack.axes == "YX":
        return Stack(stack.to_numpy()[None], "EYX", stack.metadata)
    if "E" in stack.axes and set(stack.axes) <= set("TEYX"):
        return stack.transpose("TEYX" if "T" in stack.axes else "EYX")
    source = stack.metadata.source or "input"
    assumed = " (assumed: the file does not record its axes)" if (stack.metadata.extra or {}).get(
        "axes_assumed") else ""
    wanted = "EYX" if stack.ndim == 3 else "TEYX"
    raise InputError(f"{source}: axes {stack.axes!r}{assumed} hold no energy axis E, shape {stack.shape}; STXM "
                     f"needs an energy stack EYX (or TEYX for a time series): if the first axis is energy, read it "
                     f"with axes {wanted!r} (command line: --axes {wanted})")


def check_composition(counts: Stack, config: CompositionConfig | None = None) -> tuple[Stack, list[float], Any]:
    """Check that :func:`run_composition` can work on ``counts`` with ``config``, before any work is done.

    Parameters
    ----------
    counts : Stack
        Transmitted counts (``EYX`` or ``TEYX``, or a layout with an energy axis).
    config : CompositionConfig, optional
        The run's settings.

    Returns
    -------
    (Stack, list of float, ReferenceSpectra)
        The chosen energies' counts as ``TEYX``, those energies, and the reference spectra.

    Raises
    ------
    InputError
        An unknown denoiser; no energy axis, no energies, fewer than two, repeated ones, ones not in the stack;
        images of fewer than 16 pixels; reference spectra that cannot separate the phases; an image without
        positive counts; an I0 region outside the images.
    """
    from ...xray import default_references, read_reference_spectra

    cfg = config or CompositionConfig()
    check_denoisers(cfg.denoise)
    stack = energy_stack(counts)
    source = stack.metadata.source or "input"
    picks, energies = _select_energies(stack, cfg.energies_ev)
    data = stack.to_numpy()
    data = data[:, picks] if stack.axes == "TEYX" else data[picks][None]
    meta = stack.metadata.replace(energies=tuple(energies), extra=_picked_extra(stack.metadata.extra, picks))
    series = Stack(data, "TEYX", meta)
    refs = read_reference_spectra(cfg.references) if cfg.references else default_references()
    if len(energies) < 2:
        raise InputError(f"{source}: composition needs images at >= 2 energies, the data has {len(energies)} "
                         f"({energies} eV); 'operando stxm od' gives its optical density")
    n_y, n_x = data.shape[-2:]
    if n_y * n_x < 16:
        layout = (stack.metadata.extra or {}).get("layout", "too few pixels for a map")
        raise InputError(f"{source}: {n_y} x {n_x} pixels ({layout}); composition maps "
                         "need images of >= 16 pixels; convert point spectra with 'operando convert' and fit them "
                         "per point")
    check_references(refs, energies, constant=cfg.constant)
    region = i0_region(cfg.i0)
    if isinstance(region, tuple) and not (region.y1 <= n_y and region.x1 <= n_x):
        raise InputError(f"--i0 {cfg.i0}: the region lies outside the {n_y} x {n_x} images; give rows y0:y1 and "
                         "columns x0:x1 inside them")
    with np.errstate(invalid="ignore"):
        positive = np.isfinite(data) & (data > 0)
    empty = np.argwhere(~positive.any(axis=(-2, -1)))
    if empty.size:
        t, e = (int(v) for v in empty[0])
        raise InputError(f"{source}: the image at frame {t}, {energies[e]:g} eV holds no positive counts; OD = "
                         "-ln(I / I0) needs transmitted counts > 0: check the file (a dark or failed image?) or leave "
                         "that energy out with --energies")
    return series, energies, refs


def check_denoisers(denoise: str, option: str = "--denoise") -> None:
    """Refuse an unknown denoiser name (or one in a '+' list), or one whose extra is missing, before any work.

    Parameters
    ----------
    denoise : str
        ``none``, ``auto``, a method of :mod:`operando.denoise`, or several joined by ``+``.
    option : str
        The option that named it, for the message.

    Raises
    ------
    InputError
        One line naming the option, the method and the choices (for a missing extra: its install line).
    """
    from ...denoise import check_method

    names = denoise.split("+")
    for name in names:
        try:
            check_method(name, option if len(names) == 1 else f"{option} {denoise!r}: denoiser",
                         allow=("none", "auto") if len(names) == 1 else ("auto",))
        except InputError as exc:
            raise InputError(f"{exc}; or several joined by '+' (e.g. tv+bm3d)") from None


def check_references(refs: Any, energies: list[float], *, constant: bool = False) -> None:
    """Refuse reference spectra that cannot separate the phases at the energies used (singular or non-finite).

    Parameters
    ----------
    refs : ReferenceSpectra
        End-member spectra.
    energies : list of float
        Energies of the images used, eV.
    constant : bool
        Whether a constant OD term is fitted too.

    Raises
    ------
    InputError
        If the absorptivities are not finite, or the matrix OD = A c (+ const) has fewer independent columns
        than unknowns (two phases with the same spectrum at these energies, a phase of zeros).
    """
    matrix = refs.at(energies)
    if not np.all(np.isfinite(matrix)):
        raise InputError(f"reference spectra ({refs.source}): non-finite absorptivities at {energies} eV; give "
                         "finite numbers for every phase")
    design = np.hstack([matrix, np.ones((len(energies), 1))]) if constant else matrix
    if design.shape[1] > design.shape[0]:
        return  # too few energies: refused by the unmixing with its own message
    values = np.linalg.svd(design, compute_uv=False)
    if values[-1] <= 1e-8 * max(values[0], 1e-300):
        phases = ", ".join(refs.phases)
        raise InputError(f"reference spectra ({refs.source}): the phases {phases} cannot be told apart at "
                         f"{', '.join(f'{e:g}' for e in energies)} eV (their absorptivities are proportional"
                         f"{' or constant' if constant else ''}: the unmixing matrix is singular); give distinct "
                         "end-member spectra, or energies where they differ")


def warn_bad_pixels(n_bad: int, n_total: int, source: str | None) -> None:
    """Note, once per run, how many counts were <= 0 or non-finite (their OD is NaN: masked, never filled)."""
    if n_bad:
        warnings.warn(f"{source or 'input'}: {n_bad} of {n_total} pixel(s) with counts <= 0 or not finite; "
                      "OD = -ln(I / I0) is undefined there, so they are masked (NaN), not filled",
                      UserWarning, stacklevel=3)


def _picked_extra(extra: dict[str, Any], picks: list[int]) -> dict[str, Any]:
    out = dict(extra or {})
    ring = out.get("ring_current_ma")
    if isinstance(ring, list) and ring and isinstance(ring[0], list):
        out["ring_current_ma"] = [[r[i] for i in picks] for r in ring]
    elif isinstance(ring, list) and len(ring) > max(picks):
        out["ring_current_ma"] = [ring[i] for i in picks]
    dwell = out.get("dwell_ms")
    if isinstance(dwell, list) and len(dwell) > max(picks):
        out["dwell_ms"] = [dwell[i] for i in picks]
    return out
