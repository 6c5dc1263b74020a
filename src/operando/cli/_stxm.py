"""``operando stxm ...`` (composition, phantom, demo, stripes), ``compare``, ``convert``, ``benchmark stxm``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._errors import InputError
from ._common import (
    FIGURE_SUFFIXES,
    AxesOption,
    OutputDirOption,
    SeedOption,
    TimeBudgetOption,
    cli_errors,
    console,
    data_target,
    file_target,
    guard,
    output_folder,
    print_rows,
    progress_bar,
)
from ._core import app as main_app


class LiModel(StrEnum):
    """What makes the Li maps of ``stxm phantom``."""

    cahn_hilliard = "cahn_hilliard"
    acr = "acr"


app = typer.Typer(help="X-ray spectromicroscopy (STXM/TXM): composition maps with uncertainty, phantom, demo.",
                  no_args_is_help=True)


def _floats(text: Optional[str], what: str) -> Optional[list[float]]:
    """Parse ``706,711`` into distinct finite numbers (None stays None); anything else is refused in one line."""
    import math

    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{what} {text!r}: give numbers separated by commas, e.g. 706,711") from None
    if not values:
        raise InputError(f"{what} {text!r}: no energies given; give numbers separated by commas, e.g. 706,711 "
                         f"(or leave {what} out)")
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{what} {text!r}: energies must be finite numbers, e.g. 706,711")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise InputError(f"{what} {text!r}: {', '.join(f'{v:g}' for v in repeated)} eV given twice; give each "
                         "energy once")
    return values


#: Endings of the data outputs of ``stxm composition`` / ``stxm od`` (any axes; not .hdr/.fits/video).
_MAP_SUFFIXES = (".tif", ".tiff", ".zarr", ".h5", ".hdf5", ".nxs", ".npy")


def _map_target(path: Path, option: str = "-o") -> object:
    """Describe a map output (``OUT.tif``) and its ``OUT.json`` summary beside it for the output guard."""
    from dataclasses import replace

    if not path.name.lower().endswith(_MAP_SUFFIXES):
        raise InputError(f"{path}: {option} needs a file ending in one of {' '.join(_MAP_SUFFIXES)}")
    target = data_target(path, option)
    return replace(target, companions=(*target.companions, path.with_suffix(".json")))


@app.command("composition")
@cli_errors
def composition_cmd(
    inputs: Annotated[list[str], typer.Argument(help="One stack file (.hdr, NXstxm, TIFF+energies...), or several "
                                                "files / a glob forming a time series.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="OUT.tif (float32 CYX/TCYX: x, thickness, sd(x)); "
                                         "OUT.json beside it.")],
    energies: Annotated[Optional[str], typer.Option(help="Energies to use, eV, e.g. 706,711 (default all).")] = None,
    references: Annotated[Optional[Path], typer.Option(help="CSV energy_ev,<phase>,<phase> (x = first phase); "
                                                       "default built-in APPROXIMATE LFP/FP.")] = None,
    denoise: Annotated[str, typer.Option(help="none, a denoiser (tv, n2v2, structn2v, video, nlm, "
                                                   "bm3d...), auto (chosen from the measured noise; recorded in "
                                                   "OUT.json) or several joined by '+' (tv+bm3d: the mean of their "
                                                   "outputs; bm3d needs operando[bm3d]).")] = "none",
    denoise_stage: Annotated[str, typer.Option(help="before (OD images, the paper's way) or after (x).")] = "before",
    i0: Annotated[str, typer.Option(help="auto (bright-pixel histogram) or a particle-free region y0:y1,x0:x1 "
                                    "(rows, columns; pixels, end exclusive).")] = "auto",
    per_line_i0: Annotated[bool, typer.Option(help="I0 per scan line (removes line flux changes).")] = True,
    row_offsets: Annotated[bool, typer.Option(help="Also subtract each line's median background OD.")] = False,
    ring_current: Annotated[bool, typer.Option(help="Divide each image by R / median(R).")] = False,
    align: Annotated[str, typer.Option(help="spline, linear, integer (no ringing), fourier or none.")] = "spline",
    significance: Annotated[float, typer.Option(min=0, help="Particle mask: t / sd(t) above this (> 0).")] = 3.0,
    constant: Annotated[bool, typer.Option(help="Fit a constant OD term (>= 3 energies).")] = False,
    ensemble: Annotated[int, typer.Option(min=1, help="Networks averaged; with --sd ensemble the sd is their "
                                          "spread.")] = 1,
    sd: Annotated[str, typer.Option(help="auto, poisson, split, residual or ensemble.")] = "auto",
    split_parts: Annotated[int, typer.Option(min=2, help="--sd split: Poisson parts the counts are thinned "
                                             "into.")] = 2,
    split_repeats: Annotated[int, typer.Option(min=1, help="--sd split: independent thinnings averaged (a less noisy "
                                               "sd; each costs one more denoising per part).")] = 2,
    od_smooth_px: Annotated[float, typer.Option(min=0, help="Gaussian smoothing of the denoised OD before the ratio, "
                                                "px (x becomes a thickness-weighted local mean; 0: off).")] = 0.0,
    energy_covariance: Annotated[bool, typer.Option(
        "--energy-covariance/--independent-energies",
        help="--sd split: carry the denoised errors' correlation between energies into sd(x).")] = True,
    time_budget: TimeBudgetOption = 120.0,
    seed: SeedOption = 0,
    axes: AxesOption = None,
) -> None:
    """Li fraction x, thickness and sd(x) per pixel from STXM counts at >= 2 energies."""
    from ..workflows.stxm import (
        CompositionConfig,
        check_composition,
        check_denoisers,
        read_series,
        run_composition,
        write_composition,
    )
    from ..xray import read_reference_spectra

    guard(_map_target(output), inputs=[*inputs, references])
    cfg = CompositionConfig(energies_ev=_floats(energies, "--energies"), references=str(references) if references
                            else None, i0=i0, per_line_i0=per_line_i0, row_offsets=row_offsets,
                            ring_current=ring_current, align=align, denoise=denoise, denoise_stage=denoise_stage,
                            time_budget_s=time_budget, ensemble=ensemble, sd=sd, split_parts=split_parts,
                            split_repeats=split_repeats, energy_covariance=energy_covariance,
                            od_smooth_px=od_smooth_px,
                            significance=significance,
                            constant=constant, seed=seed)
    check_denoisers(cfg.denoise)
    if references is not None:
        read_reference_spectra(references)  # a damaged file is refused before the stack is read
    counts = read_series(inputs, axes=axes)
    check_composition(counts, cfg)  # refused in one line before the progress bar starts
    with progress_bar("composition") as update:
        run = run_composition(counts, config=cfg, progress=update)
    tif, js = write_composition(run, output, counts=counts, inputs=[str(p) for p in inputs])
    rows = [{"frame": t, **{k: v for k, v in f.items()}, "mask": run.summary["mask_fraction"][t]}
            for t, f in enumerate(run.summary["frames"])]
    print_rows(rows, f"mean x per frame (thickness-weighted, 95 % interval); sd: {run.summary['sd_source'][:60]}")
    for note in run.summary["notes"]:
        console.print(f"- {note}")
    console.print(f"wrote {tif} and {js}")


@app.command("od")
@cli_errors
def od_cmd(
    inputs: Annotated[list[str], typer.Argument(help="One stack file, or several files / a glob (time series).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="OUT.tif: float32 OD (NaN where counts <= 0); "
                                         "OUT.json beside it.")],
    i0: Annotated[str, typer.Option(help="auto (bright-pixel histogram) or a particle-free region y0:y1,x0:x1 "
                                    "(rows, columns; pixels, end exclusive).")] = "auto",
    per_line_i0: Annotated[bool, typer.Option(help="I0 per scan line (removes line flux changes).")] = True,
    row_offsets: Annotated[bool, typer.Option(help="Also subtract each line's median background OD.")] = False,
    ring_current: Annotated[bool, typer.Option(help="Divide each image by R / median(R).")] = False,
    axes: AxesOption = None,
) -> None:
    """Optical density -ln(I / I0) of every image, with the I0 and scan-line record (single energies too)."""
    from .._files import write_json_file
    from ..io import write
    from ..workflows.stxm import CompositionConfig, read_series, run_optical_density

    guard(_map_target(output), inputs=list(inputs))
    cfg = CompositionConfig(i0=i0, per_line_i0=per_line_i0, row_offsets=row_offsets, ring_current=ring_current)
    counts = read_series(inputs, axes=axes)
    od, summary = run_optical_density(counts, config=cfg)
    write(od, output, dtype="float32")
    write_json_file(output.with_suffix(".json"), {**summary, "inputs": list(inputs), "output": str(output)})
    rows = [{"energy": s["energy_index"], "row_excess_before": s["before"]["row_excess"],
             "row_excess_after": s["after"]["row_excess"]} for s in summary["stripes"]]
    print_rows(rows, f"{summary['i0_source']}; background {summary['background_fraction']:.0%} of the pixels")
    console.print(f"wrote {output} ({od.shape}, {od.axes}) and {output.with_suffix('.json')}")


@app.command("phantom")
@cli_errors
def phantom_cmd(
    output: OutputDirOption,
    size: Annotated[int, typer.Option(min=24, max=4096, help="STXM pixels per side (>= 24).")] = 96,
    frames: Annotated[Optional[int], typer.Option(min=1, max=1000, help="Time points (>= 1; default 3, "
                                                  "--li-model acr 40, at least 5).")] = None,
    energies: Annotated[str, typer.Option(help="Energies, eV (distinct, 700-730).")] = "708.2,710.2",
    i0_counts: Annotated[float, typer.Option(min=0, help="Incident counts per pixel (> 0).")] = 150.0,
    particles: Annotated[int, typer.Option(min=1, max=64, help="Platelets in the field (>= 1).")] = 4,
    li_model: Annotated[LiModel, typer.Option(help="What makes the Li maps: cahn_hilliard (domains grow) or acr (the "
                                              "Allen-Cahn-reaction model on the platelets: a kinetics truth, "
                                              "truth.json and k.tif, for 'operando learn --model acr').")
                        ] = LiModel.cahn_hilliard,
    delithiation: Annotated[bool, typer.Option(help="acr: the mean Li fraction falls from 0.95 to 0.05 (default: "
                                               "rises from 0.05 to 0.95).")] = False,
    variant: Annotated[int, typer.Option(min=0, max=999, help="Phantom K of the family drawn from --seed (as "
                                         "benchmark stxm --variants numbers them; 0: the phantom of the other "
                                         "options).")] = 0,
    seed: SeedOption = 0,
) -> None:
    """Write the built-in STXM phantom (.hdr/.xim per frame, NXstxm, ground truth, ptychography reference)."""
    from ..xray import PhantomConfig, make_phantom, phantom_family, write_phantom

    acr = li_model is LiModel.acr
    if delithiation and not acr:
        raise InputError("--delithiation needs --li-model acr (the Cahn-Hilliard maps always lithiate)")
    ends = {"c_start": 0.95, "c_end": 0.05} if delithiation else {}
    cfg = PhantomConfig(size=size, frames=frames or (40 if acr else 3), n_particles=particles, li_model=li_model.value,
                        energies_ev=tuple(_floats(energies, "--energies") or []), i0_counts=i0_counts, seed=seed,
                        **ends)
    cfg = phantom_family(variant + 1, base=cfg, rng=seed)[variant]
    with output_folder(output), console.status("drawing the phantom"):
        phantom = make_phantom(cfg)
        files = write_phantom(phantom, output)
    console.print(f"wrote {len(files)} files to {output}: " + ", ".join(p.name for p in files.values()))
    if phantom.kinetics is not None:
        console.print(f"kinetics truth: {int(phantom.labels.max())} particles, frame interval "
                      f"{phantom.kinetics.frame_interval:.6g} (1/k0) in truth.json; learn it back with 'operando "
                      f"stxm composition {output / 'stxm.nxstxm.h5'} -o x.tif' then 'operando learn x.tif --model "
                      f"acr --frame-interval {phantom.kinetics.frame_interval:.6g} -o fit/'")


@app.command("demo")
@cli_errors
def demo_cmd(
    output: OutputDirOption = Path("operando-stxm-demo"),
    quick: Annotated[bool, typer.Option(help="A tiny run (seconds).")] = False,
    method: Annotated[str, typer.Option(help="Denoiser of the denoised run.")] = "tv",
    time_budget: TimeBudgetOption = 60.0,
    seed: SeedOption = 0,
) -> None:
    """Phantom -> files -> composition raw vs denoised -> comparison with the reference -> report."""
    from ..bench.stxm import check_demo_settings, run_demo

    check_demo_settings(method, time_budget)
    with output_folder(output), progress_bar("stxm demo") as update:
        result = run_demo(output, quick=quick, method=method, time_budget_s=time_budget, rng=seed, progress=update)
    keep = ("rmse_x", "max_abs_particle_error", "coverage_1.96sd")
    print_rows([{"run": k, **{m: v for m, v in s.items() if m in keep}} for k, s in result["scores"].items()],
               "composition against the phantom's truth")
    console.print(f"report: {result['report']}")


@app.command("stripes")
@cli_errors
def stripes_cmd(
    input: Annotated[Path, typer.Argument(help="A stack file (counts).")],
    axes: AxesOption = None,
) -> None:
    """Diagnose scan-line noise in the particle-free background of every image."""
    import numpy as np

    from ..workflows.stxm import read_series, warn_bad_pixels
    from ..xray import diagnose_stripes, optical_density

    counts = read_series([input], axes=axes)
    od = optical_density(counts)
    warn_bad_pixels(od.n_bad, od.od.to_numpy().size, str(input))
    data = od.od.to_numpy()
    data = data if data.ndim == 4 else data[None]
    bg = od.background if od.background.ndim == 3 else od.background[None]
    rows = [{"frame": t, "energy": e, **diagnose_stripes(data[t, e], mask=bg[t]).to_dict()}
            for t, e in np.ndindex(*data.shape[:2])]
    print_rows(rows, f"scan-line noise of {input.name} (row_excess: row-mean sd / white-noise value)")


#: Pixel types each written format cannot hold (numpy dtype kinds / names), with what to write instead.
_CANNOT_HOLD = {
    "fits": ({"c", "b", "U", "S", "O", "V"}, {"float16"}),
    "stxm": ({"c", "U", "S", "O", "V"}, set()),
    "video": ({"c", "U", "S", "O", "V"}, set()),
}


def _check_dtype(dtype: object, output: Path) -> None:
    """Refuse, before writing, pixels of a type the output format cannot hold (complex to FITS, ...)."""
    import numpy as np

    from ..io import format_of

    fmt = format_of(output)[0]
    kinds, names = _CANNOT_HOLD.get(fmt.name, (set(), set()))
    dt = np.dtype(dtype)
    if dt.kind in kinds or dt.name in names:
        raise InputError(f"{output}: {fmt.description} cannot hold {dt.name} pixels; write .tif, .h5, .zarr or .npy "
                         "instead" + (", or take the magnitude / real part first" if dt.kind == "c" else ""))


@main_app.command("convert")
@cli_errors
def convert_cmd(
    input: Annotated[Path, typer.Argument(help="Any file operando reads (.hdr, .xrm, NXstxm, TIFF, ...).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output: .nxs / .stxm.nxs / .nxstxm.h5 (NXstxm for "
                                         "energy stacks), .tif, .zarr, .h5, .npy, .hdr.")],
    energy_list: Annotated[bool, typer.Option(help="With .tif and an energy stack: also write OUT.txt (energies, "
                                              "for MANTiS / aXis2000).")] = True,
    axes: AxesOption = None,
) -> None:
    """Convert a file to another format, keeping axes, energies and pixel size."""
    from dataclasses import replace

    from ..io import read, write, write_energy_tiff, write_nxstxm

    target = data_target(output)
    is_tif = output.suffix.lower() in (".tif", ".tiff")
    if energy_list and is_tif:  # OUT.txt beside OUT.tif when the input is an energy stack
        target = replace(target, companions=(*target.companions, output.with_suffix(".txt")))
    guard(target, inputs=[input])
    stack = read(input, axes=axes, allow_nan=True)
    _check_dtype(stack.dtype, output)
    if output.suffix.lower() == ".nxs" and stack.axes in ("EYX", "TEYX"):  # what STXM users mean by .nxs
        path = write_nxstxm(stack, output)
        console.print(f"wrote {path}: NXstxm, shape {stack.shape}, axes {stack.axes} (read it back with "
                      "operando.io.read_nxstxm, or name it .stxm.nxs)")
        return
    if energy_list and is_tif and stack.axes == "EYX" and stack.metadata.energies:
        tif, txt = write_energy_tiff(stack, output, dtype="input")
        console.print(f"wrote {tif} ({stack.shape}, {stack.dtype}) and the energy list {txt}")
        return
    path = write(stack, output)
    console.print(f"wrote {path}: shape {stack.shape}, axes {stack.axes}, dtype {stack.dtype}")


@main_app.command("compare")
@cli_errors
def compare_cmd(
    tests: Annotated[list[Path], typer.Argument(help="Test stacks (e.g. raw and denoised), same shape; every frame "
                                                "is one pair.")],
    reference: Annotated[Path, typer.Option(help="Reference stack (one frame per pair, or one), any pixel size.")],
    mask: Annotated[Optional[Path], typer.Option(help="Mask file (nonzero = compared), YX or one per frame.")] = None,
    scale: Annotated[Optional[float], typer.Option(min=0, help="Reference / test pixel size (> 0; default: "
                                                   "files).")] = None,
    data_range: Annotated[Optional[float], typer.Option(min=0, help="PSNR/SSIM data range (> 0; default: reference "
                                                        "max - min in the mask).")] = None,
    normalise: Annotated[str, typer.Option(help="none or zscore (different contrast scales).")] = "none",
    figure: Annotated[Optional[Path], typer.Option(help="Box-plot figure (.png, .pdf, .svg, .jpg).")] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Rows and statistics as JSON.")] = None,
    axes: AxesOption = None,
) -> None:
    """Register a reference onto the test grid; masked PSNR/SSIM per pair; paired statistics; box plot."""
    import numpy as np

    from .._files import write_json_file
    from ..io import read
    from ..workflows.compare import check_settings, compare_versions, plot_comparison, version_labels

    guard(file_target(figure, "--figure", FIGURE_SUFFIXES), file_target(json_path, "--json", (".json",)),
          inputs=[*tests, reference, mask])
    check_settings(scale=scale, data_range=data_range, normalise=normalise)
    versions = dict(zip(version_labels(tests), (read(p, axes=axes, allow_nan=True) for p in tests), strict=True))
    mask_arr = np.asarray(read(mask).to_numpy()) > 0 if mask is not None else None
    table = compare_versions(versions, read(reference, axes=axes, allow_nan=True), mask=mask_arr, scale=scale,
                             data_range=data_range, normalise=normalise)
    print_rows([{k: v for k, v in r.items() if k != "shift_px"} for r in table.rows], f"against {reference.name} "
               f"(data range: {table.data_range})")
    first = next(iter(versions))
    for label, stats in table.statistics.items():
        s = stats["psnr_db"]
        console.print(f"{label} vs {first}: PSNR {s['mean_difference']:+.2f} dB (sd {s['sd_difference']:.2f}, "
                      f"Wilcoxon p {s['wilcoxon_p']:.3g}), SSIM {stats['ssim']['mean_difference']:+.3f}")
    if figure is not None:
        plot_comparison(table, figure)
    if json_path is not None:
        write_json_file(json_path, table.to_dict())

