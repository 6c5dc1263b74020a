"""``operando txm ...``: full-field TXM XANES, sample and reference frames to optical density, and edge maps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._errors import InputError
from .._provenance import versions
from ._common import cli_errors, console, data_target, guard, note_line, print_rows

app = typer.Typer(help="Full-field TXM XANES (Xradia .xrm/.txrm): optical density from sample and reference frames, "
                  "edge and white-line maps.", no_args_is_help=True)

#: Endings of the data outputs (any axes; not .hdr/.fits/video).
_SUFFIXES = (".tif", ".tiff", ".zarr", ".h5", ".hdf5", ".nxs", ".npy")


def _targets(path: Path, *companions: Path, option: str = "-o") -> Any:
    from dataclasses import replace

    if not path.name.lower().endswith(_SUFFIXES):
        raise InputError(f"{path}: {option} needs a file ending in one of {' '.join(_SUFFIXES)}")
    target = data_target(path, option)
    return replace(target, companions=(*target.companions, *companions))


def sd_path(output: Path) -> Path:
    """Return where ``txm od -o OUT.tif`` writes the sd: ``OUT_sd.tif`` beside it."""
    name = output.name
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return output.with_name(name[: -len(suffix)] + "_sd" + name[-len(suffix):])
    return output.with_name(output.stem + "_sd" + output.suffix)


def _window(text: Optional[str], option: str) -> Optional[tuple[float, float]]:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.replace(",", ":").split(":"))
    except ValueError:
        raise InputError(f"{option} {text!r}: give LOW:HIGH in eV, e.g. 8250:8320") from None
    return lo, hi


def _read_all(items: list[str], what: str) -> list[Any]:
    from ..io import read

    stacks = []
    for item in items:
        stack = read(item)
        stacks.append(stack)
    if not stacks:
        raise InputError(f"no {what} given")
    return stacks


@app.command("od")
@cli_errors
def od_cmd(
    samples: Annotated[list[str], typer.Argument(help="Sample frames: .xrm files, a folder or a quoted glob "
                                                 "('scan/rep01_*of003.xrm'), a .txrm, or TIFF stacks with energies.")],
    flat: Annotated[list[str], typer.Option("--flat", help="Reference (flat) frames, sample moved out: files, a "
                                            "folder or a quoted glob ('scan/*_ref_*.xrm'); repeat --flat for "
                                            "several. A .txrm's embedded reference: scan.txrm:/reference.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="OUT.tif: float32 OD (EYX, NaN where a count rate "
                                         "<= 0); OUT_sd.tif (its sd) and OUT.json beside it.")],
    dark: Annotated[Optional[list[str]], typer.Option("--dark", help="Dark frames (averaged, subtracted "
                                                      "unscaled).")] = None,
    sample_exposure: Annotated[Optional[float], typer.Option(min=0, help="Override the samples' recorded exposure, "
                                                             "s (> 0).")] = None,
    flat_exposure: Annotated[Optional[float], typer.Option(min=0, help="Override the references' recorded exposure, "
                                                           "s (> 0).")] = None,
    align: Annotated[str, typer.Option(help="Drift between energies: linear, spline, integer, fourier or "
                                       "none.")] = "linear",
    align_energy: Annotated[Optional[float], typer.Option(help="Energy (eV) the others are aligned onto (default "
                                                          "the highest).")] = None,
    max_shift: Annotated[Optional[float], typer.Option(min=0, help="Largest drift searched, px (default a quarter "
                                                       "of the field).")] = None,
    energy_tolerance: Annotated[float, typer.Option(min=0, help="Frames closer than this (eV) are one "
                                                    "energy.")] = 0.05,
) -> None:
    """Optical density -ln((I - D) / t / ((I_ref - D) / t_ref)) per energy, repeats averaged, drift aligned."""
    from .._files import write_json_file
    from ..io import write
    from ..xray import txm_optical_density

    if align not in ("linear", "spline", "integer", "fourier", "none"):
        raise InputError(f"--align {align!r}: use linear, spline, integer, fourier or none")
    for value, option in ((sample_exposure, "--sample-exposure"), (flat_exposure, "--flat-exposure")):
        if value is not None and value <= 0:
            raise InputError(f"{option} {value:g}: give an exposure time > 0 s")
    sd_file, json_file = sd_path(output), output.with_suffix(".json")
    guard(_targets(output, sd_file, json_file), inputs=[*samples, *flat, *(dark or [])])
    sample_stacks = _read_all(list(samples), "sample frames")
    ref_stacks = _read_all(list(flat), "reference frames (--flat)")
    dark_stacks = _read_all(list(dark), "dark frames") if dark else None
    result = txm_optical_density(sample_stacks, ref_stacks, dark=dark_stacks, sample_exposure_s=sample_exposure,
                                 reference_exposure_s=flat_exposure, align=align,  # type: ignore[arg-type]
                                 reference_energy_ev=align_energy, max_shift_px=max_shift,
                                 energy_tolerance_ev=energy_tolerance)
    from .. import Stack

    write(result.od, output, dtype="float32")
    write(Stack(result.sd, "EYX", result.od.metadata.replace(extra={"quantity": "sd of optical density"})), sd_file,
          dtype="float32")
    write_json_file(json_file, {**result.to_dict(), "inputs": {"samples": list(samples), "flat": list(flat),
                                                               "dark": list(dark or [])},
                                "outputs": {"od": str(output), "sd": str(sd_file)}, "versions": versions()})
    rows = [{"energy_ev": e, "sample_repeats": n_s, "t_sample_s": ts[0], "flat_repeats": n_r, "t_flat_s": tr[0],
             "shift_dy": float(sh[0]), "shift_dx": float(sh[1])}
            for e, n_s, ts, n_r, tr, sh in zip(result.energies, result.sample_repeats, result.sample_exposure_s,
                                               result.reference_repeats, result.reference_exposure_s,
                                               result.shifts_px, strict=True)]
    print_rows(rows[:40], f"optical density: {len(rows)} energies" + (" (first 40 shown)" if len(rows) > 40 else ""))
    for note in result.notes:
        note_line(note)
    console.print(f"wrote {output}, {sd_file} and {json_file}")


@app.command("edge")
@cli_errors
def edge_cmd(
    od: Annotated[Path, typer.Argument(help="An optical-density stack (EYX with energies), e.g. from txm od.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="OUT.tif: float32 maps (CYX); OUT.json beside "
                                         "it names the channels.")],
    sd: Annotated[Optional[Path], typer.Option(help="The OD's sd (default OD_sd.tif beside it, if there).")] = None,
    method: Annotated[str, typer.Option(help="Edge position: half (normalised absorption crosses 0.5) or "
                                        "derivative (its maximum slope).")] = "half",
    pre_edge: Annotated[Optional[str], typer.Option(help="Pre-edge window LOW:HIGH eV (default the lowest 15 % "
                                                    "of the range).")] = None,
    post_edge: Annotated[Optional[str], typer.Option(help="Post-edge window LOW:HIGH eV (default the highest "
                                                     "15 %).")] = None,
    below: Annotated[Optional[float], typer.Option(help="Jump map from a longer stack: energy below the edge, "
                                                   "eV.")] = None,
    above: Annotated[Optional[float], typer.Option(help="Jump map: energy above the edge, eV.")] = None,
    bootstrap: Annotated[int, typer.Option(min=0, max=10000, help="Parametric bootstrap draws for the sd of the "
                                           "positions.")] = 50,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap (recorded).")] = 0,
) -> None:
    """Edge jump (two energies), or per-pixel edge and white-line positions with their sd (a XANES stack)."""
    import numpy as np

    from .. import Metadata, Stack
    from .._files import write_json_file
    from ..io import read, write
    from ..xray import edge_maps

    if method not in ("half", "derivative"):
        raise InputError(f"--method {method!r}: use half or derivative")
    default_sd = sd_path(od)
    sd_file = sd if sd is not None else (default_sd if default_sd.exists() else None)
    json_file = output.with_suffix(".json")
    guard(_targets(output, json_file), inputs=[od, sd_file])
    stack = read(od, allow_nan=True)
    sd_arr = None
    if sd_file is not None:
        sd_arr = np.asarray(read(sd_file, allow_nan=True).to_numpy(), dtype=np.float64)
    else:
        note_line(f"no sd given and no {default_sd.name} beside {od.name}: the sd channels are NaN")
    maps = edge_maps(stack, sd_arr, method=method, pre_edge_ev=_window(pre_edge, "--pre-edge"),  # type: ignore[arg-type]
                     post_edge_ev=_window(post_edge, "--post-edge"), below_ev=below, above_ev=above,
                     bootstrap=bootstrap, rng=seed)
    meta = Metadata(pixel_size=stack.metadata.pixel_size, pixel_unit=stack.metadata.pixel_unit,
                    extra={"channels": maps.channels, "undefined": "NaN"})
    write(Stack(maps.maps, "CYX", meta), output, dtype="float32")
    write_json_file(json_file, {**maps.to_dict(), "inputs": {"od": str(od), "sd": str(sd_file) if sd_file else None},
                                "output": str(output), "axes": "CYX", "seed": seed, "versions": versions()})
    print_rows([{"channel": c, "median": v} for c, v in maps.to_dict()["medians"].items()],
               f"edge maps of {od.name} ({maps.config['kind']})")
    for note in maps.notes:
        note_line(note)
    console.print(f"wrote {output} and {json_file}")
