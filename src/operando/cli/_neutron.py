"""``operando neutron ...``: normalise radiographs, measure variability, analyse a run, phantom, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ._common import (
    JsonOption,
    OutputDirOption,
    OutputFileOption,
    SeedOption,
    TimeBudgetOption,
    above_zero,
    cli_errors,
    console,
    data_target,
    file_target,
    guard,
    output_folder,
    print_rows,
    progress_bar,
)

app = typer.Typer(help="Operando neutron radiography: normalisation, Delta A, variability, active area, profiles.",
                  no_args_is_help=True)

OpenRegionOption = Annotated[Optional[list[str]], typer.Option(
    "--open-region", help="Air region y0:y1,x0:x1 for the beam-fluctuation correction (repeat to pool several).")]
AllowGapsOption = Annotated[bool, typer.Option("--allow-gaps", help="Accept holes in numbered file series.")]


def _inputs(*items: Any) -> list[Any]:
    """Flatten the inputs a command reads (single paths, lists of paths, None) for the output guard."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out += [i for i in item if i is not None]
        elif item is not None:
            out.append(item)
    return out


def _boxes(texts: Optional[list[str]], option: str = "--open-region") -> tuple[Any, ...]:
    """Parse each ``y0:y1,x0:x1`` of a repeated region option (one line naming the option when one is wrong)."""
    from .._regions import parse_region

    return tuple(parse_region(t, option) for t in texts or [])


@app.command("normalize")
@cli_errors
def normalize_cmd(
    samples: Annotated[list[str], typer.Argument(help="Sample radiographs: files, a folder or a glob.")],
    open_beam: Annotated[list[str], typer.Option("--open-beam", help="Open-beam files, folder or glob (repeat).")],
    dark: Annotated[list[str], typer.Option("--dark", help="Dark-current files, folder or glob (repeat).")],
    output: OutputFileOption,
    open_region: OpenRegionOption = None,
    spots: Annotated[str, typer.Option(help="Gamma-spot rule for the sample: auto, temporal, spatial, none.")] = "auto",
    k: Annotated[float, typer.Option("--k", callback=above_zero, help="Spot threshold in robust sd (> 0).")] = 5.0,
    gain: Annotated[float, typer.Option(callback=above_zero, help="Detector counts per detected neutron (noise "
                                        "model, > 0).")] = 1.0,
    exposure_ratio: Annotated[Optional[float], typer.Option(
        callback=above_zero, help="t_sample / t_open_beam (> 0), overriding the exposure times in the files.")
                              ] = None,
    allow_gaps: AllowGapsOption = False,
) -> None:
    """Normalise radiographs to float32 transmission T = (I - D) / (OB - D), spots removed, beam corrected."""
    from ..workflows.neutron import normalize_files, transmission_targets

    guard(data_target(output, "-o"), transmission_targets(output, "-o")[1], inputs=_inputs(samples, open_beam, dark))
    path, tr = normalize_files(samples if len(samples) > 1 else samples[0], open_beam if len(open_beam) > 1 else
                               open_beam[0], dark if len(dark) > 1 else dark[0], output,
                               open_regions=_boxes(open_region), spots=spots, k=k, gain=gain,  # type: ignore[arg-type]
                               exposure_ratio=exposure_ratio, allow_gaps=allow_gaps)
    info = tr.info
    data = tr.stack.to_numpy()
    console.print(f"wrote {path}: transmission {tr.stack.axes} {data.shape}, median {float(_nanmedian(data)):.4f}; "
                  f"gamma spots removed: sample {sum(info['sample_spots'])} px, open beam "
                  f"{sum(info['open_beam_spots'])} px, dark {sum(info['dark_spots'])} px; exposure ratio "
                  f"{info['exposure_ratio']:.4g} ({info['exposure_ratio_from']}); beam factors "
                  f"{min(info['beam_factors']):.4f}-{max(info['beam_factors']):.4f}; masked "
                  f"{sum(info['bad_pixels_per_frame'])} px")


def _nanmedian(data) -> float:  # noqa: ANN001
    import numpy as np

    return float(np.nanmedian(data))


@app.command("variability")
@cli_errors
def variability_cmd(
    stack: Annotated[Path, typer.Argument(help="A TYX series (e.g. delta_a_raw.tif).")],
    mask: Annotated[Optional[Path], typer.Option(help="Mask image (nonzero = inside), YX or TYX.")] = None,
    window: Annotated[int, typer.Option(min=2, help="Window side in frames and pixels (>= 2).")] = 3,
    json_out: JsonOption = None,
) -> None:
    """Print the dynamic variability (mean local window^3 (t, y, x) sd) of a series, over a mask."""
    import numpy as np

    from .._errors import InputError
    from .._files import write_json_file
    from .._provenance import versions
    from ..io import read
    from ..neutron import dynamic_variability

    guard(file_target(json_out, "--json", (".json",)), inputs=_inputs(stack, mask))
    data = read(stack, allow_nan=True)
    mask_arr = read(mask).to_numpy() != 0 if mask is not None else None
    if mask_arr is not None and mask_arr.shape not in (data.shape[-2:], data.shape):
        raise InputError(f"{mask}: the mask is {'x'.join(map(str, mask_arr.shape))} but the series {stack} is "
                         f"{'x'.join(map(str, data.shape))} ({data.axes}); give a mask of its image size "
                         f"{'x'.join(map(str, data.shape[-2:]))} or of the whole series")
    result = dynamic_variability(data.to_numpy() if data.axes == "TYX" else data, mask=mask_arr, window=window)
    console.print(f"dynamic variability {result.value:.5g} (window {window}x{window}x{window} t,y,x; "
                  f"{result.voxels} voxels; {result.excluded_voxels} left out next to masked values)")
    if json_out is not None:
        write_json_file(json_out, {"input": str(stack), "dynamic_variability": result.value,
                                   "window": [window, window, window], "mask": str(mask) if mask else None,
                                   "voxels": result.voxels, "excluded_voxels": result.excluded_voxels,
                                   "mask_pixels": int(np.count_nonzero(mask_arr)) if mask_arr is not None else None,
                                   "versions": versions()})


def _half_cycles(text: Optional[str]) -> tuple[int, ...] | None:
    """Parse ``--half-cycles a,b,c`` into increasing frame numbers."""
    from .._errors import InputError

    if text is None:
        return None
    try:
        frames = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--half-cycles {text!r} is not a list of frame numbers; give the boundary frames "
                         "separated by commas, e.g. 3,35,67") from None
    if len(frames) < 2 or any(b <= a for a, b in zip(frames, frames[1:], strict=False)) or frames[0] < 0:
        raise InputError(f"--half-cycles {text!r}: give at least two increasing frame numbers >= 0 separated by "
                         "commas, e.g. 3,35,67")
    return frames


@app.command("analyze")
@cli_errors
def analyze_cmd(
    source: Annotated[str, typer.Argument(help="Transmission series (from normalize) or raw counts (then "
                                               "--open-beam and --dark).")],
    output: OutputDirOption,
    reference_frame: Annotated[str, typer.Option(help="Reference frame N, or a range start:stop averaged.")] = "0",
    denoise: Annotated[str, typer.Option(help="video (the paper's way), auto (chosen from the measured noise; the "
                                         "choice and its reason go into metrics.json) or none.")] = "video",
    denoise_target: Annotated[str, typer.Option(help="What is denoised: transmission (default, measured best on "
                                                "the phantom: docs/neutron.md), delta_a or raw.")] = "transmission",
    polish: Annotated[str, typer.Option(help="tv (default): after the video denoiser, total variation on the "
                                        "reference image (its noise is static in every frame) and on each Delta A "
                                        "frame, weight = the image's residual noise sd; none: the network alone.")
                      ] = "tv",
    mean_correction: Annotated[str, typer.Option(help="region (default): add back the low-pass of raw - denoised "
                                                 "Delta A within each layer region, so the denoiser keeps the "
                                                 "detail and the raw data's unbiased region means; none: off.")
                               ] = "region",
    max_steps: Annotated[Optional[int], typer.Option(
        min=1, help="The denoiser's training steps (default: as many as --time-budget allows).")] = None,
    regions: Annotated[Optional[Path], typer.Option(help="regions.json (default: layers found in the image).")] = None,
    cycler: Annotated[Optional[Path], typer.Option(help="Cycler CSV (time, current, voltage).")] = None,
    open_beam: Annotated[Optional[list[str]], typer.Option("--open-beam", help="Open beam, for raw input.")] = None,
    dark: Annotated[Optional[list[str]], typer.Option("--dark", help="Dark current, for raw input.")] = None,
    open_region: OpenRegionOption = None,
    half_cycles: Annotated[Optional[str], typer.Option(help="Half-cycle boundary frames a,b,c (without --cycler).")
                           ] = None,
    frame_interval: Annotated[Optional[float], typer.Option(
        callback=above_zero, help="Seconds between frames (> 0), if not in the files.")] = None,
    k: Annotated[float, typer.Option("--k", callback=above_zero, help="Active-area threshold in propagated sd (> 0).")
                 ] = 3.0,
    no_register: Annotated[bool, typer.Option("--no-register", help="Skip drift registration.")] = False,
    drift_region: Annotated[Optional[str], typer.Option(help="Stable region y0:y1,x0:x1 for the drift registration "
                                                            "(default: the whole frame).")] = None,
    li6_fraction: Annotated[float, typer.Option(min=0, max=1, help="6Li atom fraction (natural 0.0759).")
                            ] = 0.0759,
    time_budget: TimeBudgetOption = 120.0,
    seed: SeedOption = 0,
) -> None:
    """Delta A raw and denoised, metrics.json (variability, active area, profiles) and the paper's figures."""
    from ..workflows.neutron import AnalysisConfig, analyze_files, parse_reference, transmission_targets

    config = AnalysisConfig(reference=parse_reference(reference_frame), denoise=denoise,  # type: ignore[arg-type]
                            denoise_target=denoise_target, time_budget_s=time_budget, seed=seed,  # type: ignore
                            polish=polish, mean_correction=mean_correction,  # type: ignore[arg-type]
                            max_steps=max_steps, k=k, register_drift=not no_register,
                            open_regions=_boxes(open_region),
                            drift_region=_boxes([drift_region], "--drift-region")[0] if drift_region else None,
                            half_cycle_frames=_half_cycles(half_cycles), li6_fraction=li6_fraction)
    var_a = transmission_targets(source)[1].path if "*" not in source else None  # read with a transmission
    inputs = _inputs(source, var_a, open_beam, dark, regions, cycler)
    with output_folder(output, inputs=inputs), progress_bar("analysing") as update:
        _, doc = analyze_files(source, output, config=config, open_beam=_one_or_list(open_beam),
                               dark=_one_or_list(dark), regions=regions, cycler=cycler,
                               frame_interval_s=frame_interval, progress=update)
    var = doc["dynamic_variability"]
    den = f"{var['denoised']:.4g}" if var["denoised"] is not None else "-"
    console.print(f"dynamic variability raw {var['raw']:.4g} -> denoised {den}")
    rows = [{"name": n, "raw": ", ".join(f"{v:.3f}" for v in a["raw"]),
             "denoised": ", ".join(f"{v:.3f}" for v in a["denoised"]) if a["denoised"] else "-"}
            for n, a in doc["active_area_fraction"].items() if isinstance(a, dict)]
    print_rows(rows, f"active area fraction per half-cycle (k = {k:g})")
    written = ["delta_a_raw.tif", "delta_a_sd.tif"] + (["delta_a_denoised.tif"] if var["denoised"] is not None else [])
    console.print(f"wrote {output}: {', '.join(written)}, metrics.json, {', '.join(doc['figures'])}")


def _one_or_list(values: Optional[list[str]]):  # noqa: ANN202
    if not values:
        return None
    return values[0] if len(values) == 1 else values


@app.command("phantom")
@cli_errors
def phantom_cmd(
    output: OutputDirOption,
    frames_per_half_cycle: Annotated[int, typer.Option(min=1, max=1000, help="Frames per charge or discharge.")
                                     ] = 32,
    cycles: Annotated[int, typer.Option(min=1, max=10, help="Charge/discharge cycles.")] = 3,
    open_beam_counts: Annotated[float, typer.Option(min=1, max=50000, help="Open-beam counts per pixel.")] = 2500.0,
    seed: SeedOption = 0,
) -> None:
    """Write the built-in cell phantom (raw counts, open beam, dark, regions.json, cycler.csv, truth)."""
    from ..bench.neutron_demo import write_phantom
    from ..neutron import default_config

    changes = {"frames_per_half_cycle": frames_per_half_cycle, "n_cycles": cycles,
               "open_beam_counts": open_beam_counts}
    default_config(**changes)  # every range checked before the folder is made
    with output_folder(output):
        files = write_phantom(output, rng=seed, **changes)
    console.print(f"wrote {output}: {', '.join(str(p.relative_to(output)) for p in files.values())}")
    console.print(f"analyse it: operando neutron analyze {files['sample']} --open-beam {files['open_beam']} --dark "
                  f"{files['dark']} --regions {files['regions']} --cycler {files['cycler']} --reference-frame 0:4 "
                  f"-o {Path(output) / 'analysis'}")


@app.command("demo")
@cli_errors
def demo_cmd(
    output: OutputDirOption = Path("neutron-demo"),
    time_budget: TimeBudgetOption = 60.0,
    seed: SeedOption = 0,
) -> None:
    """Make the phantom and analyse it from raw counts with its cycler record."""
    from ..bench.neutron_demo import run_demo

    with output_folder(output), progress_bar("neutron demo") as update:
        result = run_demo(output, time_budget_s=time_budget, rng=seed, progress=update)
    var = result.metrics["dynamic_variability"]
    console.print(f"dynamic variability raw {var['raw']:.4g} -> denoised {var['denoised']:.4g}; "
                  f"outputs in {result.folder / 'analysis'}")

