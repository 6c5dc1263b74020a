"""``operando benchmark ...``: every benchmark, each a thin caller of :mod:`operando.bench`.

The benchmarks run the pipelines on data with a known truth (phantoms, simulated videos, the real step wedge
against its long exposure) and print a table; each writes a report folder. A new benchmark adds one command here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .._errors import InputError
from ._common import (
    OutputDirOption,
    SeedOption,
    TimeBudgetOption,
    cli_errors,
    console,
    note_line,
    output_folder,
    print_rows,
    progress_bar,
)
from ._optical import MIN_PHANTOM_SIZE

if TYPE_CHECKING:
    from ..bench.stxm import BenchmarkConfig

app = typer.Typer(help="Benchmarks that print tables and write reports.", no_args_is_help=True)

SizeOption = Annotated[int, typer.Option(help="Grid points per side (>= 32).", min=32)]
MaxStepsOption = Annotated[Optional[int], typer.Option(
    "--max-steps", help="Stop every network after this many steps, >= 1 (equal steps, not equal time, on a shared "
    "CPU).", min=1)]


@app.command("denoise")
@cli_errors
def benchmark_denoise(
    output: OutputDirOption = Path("benchmark-denoise"),
    size: SizeOption = 128,
    frames: Annotated[int, typer.Option(help="Frames of the simulated video (>= 5).", min=5)] = 100,
    noise: Annotated[Optional[list[str]], typer.Option(help="Noise cases (repeat; default: 8 cases).")] = None,
    method: Annotated[Optional[list[str]], typer.Option(help="Methods (repeat; default: all + oracle).")] = None,
    time_budget: TimeBudgetOption = 300.0,
    seed: SeedOption = 0,
    tta: Annotated[bool, typer.Option(help="Average networks over the training flips/rotations.")] = False,
    scanline: Annotated[bool, typer.Option(help="Add the scan-line case scanline:0.1,0,0.03.")] = True,
) -> None:
    """Every denoiser on every noise type of the simulated video: PSNR, SSIM, bias, seconds."""
    from ..bench.denoise import DEFAULT_METHODS, DEFAULT_NOISES, DEFAULT_SCANLINE, benchmark_denoisers

    _check_noises(noise)
    with output_folder(output), progress_bar("benchmark") as update:
        rows = benchmark_denoisers(output, size=size, n_frames=frames, noises=noise or DEFAULT_NOISES,
                                   methods=method or DEFAULT_METHODS, time_budget_s=time_budget,
                                   scanline=DEFAULT_SCANLINE if scanline else None, seed=seed, tta=tta,
                                   progress=update)
    print_rows([r.to_dict() for r in rows], "denoising benchmark (data range 1)")
    console.print(f"report: {output / 'report.md'}")


@app.command("physics")
@cli_errors
def benchmark_physics_cmd(
    output: OutputDirOption = Path("benchmark-physics"),
    size: SizeOption = 128,
    frames: Annotated[int, typer.Option(help="Frames of the simulated video (>= 5).", min=5)] = 50,
    noise: Annotated[Optional[list[str]], typer.Option(help="Noise cases (repeat).")] = None,
    denoiser: Annotated[Optional[list[str]], typer.Option(help="Denoisers (repeat; default video, n2v).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples per fit (>= 0).", min=0)] = 20,
    window: Annotated[int, typer.Option(help="Shooting window in frames (>= 1).", min=1)] = 3,
    fit_initial_states: Annotated[int, typer.Option(help="Errors-in-variables rounds per fit (>= 0).", min=0)] = 0,
    time_budget: TimeBudgetOption = 300.0,
    ensemble: Annotated[int, typer.Option(help="Average this many seeds' networks per denoiser (>= 1).",
                                          min=1)] = 1,
    seed: SeedOption = 0,
    variants: Annotated[Optional[int], typer.Option(help="Run on this many variants of the physics family (noise "
                                                    "model and level, ln D slope, initial state drawn from --seed, "
                                                    "--seed + 1, ...): worst / median / spread.", min=1)] = None,
) -> None:
    """Learn mu_h and M back from clean, noisy and denoised videos; errors, band widths and coverage."""
    from ..bench.physics import benchmark_physics, benchmark_physics_family

    _check_noises(noise)
    if window >= frames:
        raise InputError(f"--window {window} needs more than {window} frames; pass --frames > {window}")
    if variants is not None:
        if noise:
            raise InputError("--variants draws each variant's noise; leave --noise out")
        with output_folder(output), progress_bar(f"physics benchmark, {variants} variants") as update:
            result = benchmark_physics_family(
                output, variants=variants, family_seed=seed, progress=update, size=size, n_frames=frames,
                denoisers=denoiser or ["video", "n2v"], bootstrap=bootstrap, window=window,
                fit_initial_states=fit_initial_states, denoise_budget_s=time_budget, denoise_ensemble=ensemble)
        print_rows([{k: v for k, v in r.items()} for r in result["summary"]], "physics over the family (rel. L2)")
        console.print(f"report: {output / 'family.md'}")
        return
    with output_folder(output), progress_bar("physics benchmark") as update:
        rows = benchmark_physics(output, size=size, n_frames=frames, noises=noise or ["gaussian:0.05"],
                                 denoisers=denoiser or ["video", "n2v"], bootstrap=bootstrap, window=window,
                                 fit_initial_states=fit_initial_states, denoise_budget_s=time_budget,
                                 denoise_ensemble=ensemble, seed=seed, progress=update)
    print_rows(rows, "physics benchmark")
    console.print(f"report: {output / 'report.md'}")


def _check_noises(noises: list[str] | None) -> None:
    """Parse each noise case before any work (one line naming the bad case)."""
    from ..noise import parse_noise

    for case in noises or []:
        parse_noise(case)


@app.command("correlated")
@cli_errors
def benchmark_correlated_cmd(
    output: OutputDirOption = Path("benchmark-correlated"),
    scene: Annotated[Optional[list[str]], typer.Option(help="camera, cahn_hilliard (repeat; default both).")] = None,
    noise: Annotated[Optional[list[str]], typer.Option(help=(
        "Noise cases (repeat; default: white, PSF-blurred 0.2/0.4/0.6, scintillator, scan-line, scan-line plus "
        "jitter). A case joins with '+' the models gaussian:SIGMA, poisson:PEAK, impulse:FRACTION, "
        "mixed:PEAK,SIGMA[,IMPULSE], scanline:OFFSET[,GAIN[,PIXEL[,CORR]]], fixed:SIGMA[,GAIN], "
        "correlated:SIGMA[,RHO], scintillator:PEAK[,RHO] and jitter:PX[,CORR] (STXM positioning jitter: each "
        "row shifted along X by an AR(1) amount of SD PX pixels, row-to-row correlation CORR, default 0.8), "
        "e.g. 'jitter:0.3+scanline:0.05'."))] = None,
    method: Annotated[Optional[list[str]], typer.Option(help="Methods (repeat; default: auto, n2v2, "
                                                          "pixel_shuffle, video, gaussian, bm3d, bm3d_true).")] = None,
    size: Annotated[int, typer.Option(help="Side of the natural image, pixels (>= 64).", min=64)] = 256,
    video_size: Annotated[int, typer.Option(help="Side of the Cahn-Hilliard video, pixels (>= 64).", min=64)] = 128,
    frames: Annotated[int, typer.Option(help="Frames of the Cahn-Hilliard video (>= 5).", min=5)] = 50,
    time_budget: TimeBudgetOption = 300.0,
    max_steps: MaxStepsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Every denoiser on correlated noise with ground truth: PSNR, SSIM and the no-clean-data residual check."""
    from ..bench.correlated import (
        DEFAULT_METHODS,
        DEFAULT_NOISES,
        SCENES,
        benchmark_correlated,
    )

    _check_noises(noise)
    with output_folder(output), progress_bar("correlated benchmark") as update:
        rows = benchmark_correlated(output, scenes=scene or SCENES, noises=noise or DEFAULT_NOISES,
                                    methods=method or DEFAULT_METHODS, size=size, video_size=video_size,
                                    n_frames=frames, time_budget_s=time_budget, max_steps=max_steps, seed=seed,
                                    progress=update)
    keys = ("scene", "noise", "method", "psnr_db", "ssim", "residual_passed", "seconds", "chosen")
    print_rows([{k: r.to_dict()[k] for k in keys} for r in rows], "correlated-noise benchmark (data range 1)")
    console.print(f"report: {output / 'report.md'}")


@app.command("real")
@cli_errors
def benchmark_real_cmd(
    output: OutputDirOption = Path("benchmark-real"),
    data: Annotated[Path, typer.Option(help="The neutron step-wedge folder (5 s and 120 s exposures).")] = Path(
        "../shared/data/neutron/stepwedge"),
    method: Annotated[Optional[list[str]], typer.Option(help="Methods (repeat; default: auto, n2v2, "
                                                          "pixel_shuffle, gaussian, bm3d).")] = None,
    crop: Annotated[int, typer.Option(help="Side of the central square scored (0: the whole lit field; else "
                                           ">= 64).", min=0)] = 512,
    time_budget: TimeBudgetOption = 300.0,
    max_steps: MaxStepsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Denoise the 5 s step-wedge radiograph; every method's MSE against the 120 s exposure of the same scene."""
    from ..bench.real import DEFAULT_METHODS, benchmark_real

    if 0 < crop < 64:
        raise InputError(f"--crop {crop}: a square of fewer than 64 px is too small to score; pass 0 (the whole lit "
                         "field) or >= 64")
    if not data.is_dir():
        raise InputError(f"{data}: --data must be the neutron step-wedge folder (5 s and 120 s exposures)")
    with output_folder(output, inputs=[data]), progress_bar("real benchmark") as update:
        summary = benchmark_real(output, data_dir=data, methods=method or DEFAULT_METHODS, crop=crop or None,
                                 time_budget_s=time_budget, max_steps=max_steps, seed=seed, progress=update)
    print_rows(summary["rows"], "5 s step wedge against the 120 s reference (transmission MSE)")
    noise = summary["noise"]
    console.print(f"measured noise: neighbour correlation {noise['acf_x'][1]:.2f} (x) / {noise['acf_y'][1]:.2f} "
                  f"(y), correlation length {noise['correlation_length_px']} px; report: {output}")


@app.command("stxm")
@cli_errors
def benchmark_stxm_cmd(
    output: OutputDirOption = Path("benchmark-stxm"),
    size: Annotated[int, typer.Option(min=24, max=4096, help="Phantom pixels per side (>= 24).")] = 96,
    frames: Annotated[int, typer.Option(min=1, max=1000, help="Phantom time points (>= 1).")] = 3,
    i0_counts: Annotated[float, typer.Option(min=0, help="Incident counts per pixel (> 0; photon-limited: "
                                             "~100-300).")] = 150.0,
    method: Annotated[str, typer.Option(help="Denoiser of the denoised rows.")] = "tv",
    extra: Annotated[Optional[list[str]], typer.Option(help="More denoisers (before the ratio); repeat.")] = None,
    time_budget: TimeBudgetOption = 90.0,
    bias_draws: Annotated[int, typer.Option(min=0, max=10000, help="More noise draws over which the per-particle "
                                            "bias of the raw and denoised rows is averaged (0: one draw).")] = 10,
    variants: Annotated[int, typer.Option(min=1, max=1000, help="Phantoms of the family (docs/xray.md): variant 0 "
                                          "is the one of --size/--frames/--i0-counts/--seed, the others are drawn "
                                          "from --seed; reports the worst case, median and spread. With > 1 the "
                                          "--extra rows are off unless given.")] = 1,
    seed: SeedOption = 0,
) -> None:
    """Composition on the phantom: RMSE, bias, sd calibration, stripes, PSNR against the reference."""
    from ..bench.stxm import BenchmarkConfig, benchmark_stxm
    from ..workflows.stxm import check_denoisers
    from ..xray import PhantomConfig

    for name, option in ((method, "--method"), *((m, "--extra") for m in extra or [])):
        check_denoisers(name, option)
    default_extra = ["nlm", "n2v2"] if variants == 1 else []
    cfg = BenchmarkConfig(phantom=PhantomConfig(size=size, frames=frames, i0_counts=i0_counts, seed=seed),
                          method=method, time_budget_s=time_budget, seed=seed, bias_draws=bias_draws,
                          extra_methods=extra if extra is not None else default_extra)
    if variants > 1:
        _stxm_family(output, cfg, variants)
        return
    with output_folder(output), progress_bar("stxm benchmark") as update:
        result = benchmark_stxm(output, config=cfg, progress=update)
    print_rows([{k: v for k, v in r.items() if k not in ("od_error_energy",)} for r in result["rows"]],
               "STXM composition on the phantom")
    print_rows([{"target": k, "value": v["value"], "wanted": v["target"], "met": str(v["met"])}
                for k, v in result["targets"].items()], "targets")
    console.print(f"report: {output / 'report.md'}")


def _stxm_family(output: Path, cfg: BenchmarkConfig, variants: int) -> None:
    """``benchmark stxm --variants N``: the family run, its two tables and where the report is."""
    from ..bench.stxm_family import benchmark_stxm_family, family_rows
    from ..xray import phantom_family

    phantom_family(variants, base=cfg.phantom, rng=cfg.seed)  # a family that cannot be drawn: refused before work
    with output_folder(output), progress_bar(f"stxm benchmark, {variants} phantoms") as update:
        result = benchmark_stxm_family(output, variants=variants, config=cfg, progress=update)
    targets, rows = family_rows(result)
    shown = ("variant", "I0", "t um", "particles", "drift px", "x RMSE ratio", "coverage den.", "max bias den.",
             "PSNR gain dB")
    print_rows([{k: r[k] for k in shown} for r in rows],
               f"STXM composition on {variants} phantoms of the family (variant 0: the single benchmark's)")
    print_rows([{k: v for k, v in t.items() if k != "sd"} for t in targets],
               "targets over the variants: the worst case, median and spread (min-max)")
    missed = [f"{t['target']} ({t['worst']:.4g}, variant {t['worst variant']})" for t in targets
              if not t["met on worst"]]
    if result["failed_variants"]:
        missed.append(f"variants not run: {result['failed_variants']}")
    console.print("every target met on the worst variant" if not missed else
                  "not met on the worst variant: " + "; ".join(missed))
    console.print(f"report: {output / 'report.md'}")


@app.command("neutron")
@cli_errors
def benchmark_neutron_cmd(
    output: OutputDirOption = Path("benchmark-neutron"),
    time_budget: TimeBudgetOption = 90.0,
    target: Annotated[Optional[list[str]], typer.Option(help="Denoise delta_a, transmission, raw (repeat).")] = None,
    data: Annotated[Optional[Path], typer.Option(
        help="Step-wedge folder (default ../shared/data/neutron/stepwedge, skipped with a note when missing).")
                    ] = None,
    seed: SeedOption = 0,
    variants: Annotated[int, typer.Option(
        min=1, max=1000, help="Phantom-family variants: worst / median / spread of each figure (1: the built-in "
                              "phantom, once per --target).")] = 1,
    max_steps: MaxStepsOption = None,
    frames_per_half_cycle: Annotated[Optional[int], typer.Option(
        min=1, max=1000, help="Frames per charge or discharge of the phantom (default 32).")] = None,
    cycles: Annotated[Optional[int], typer.Option(min=1, max=10, help="Cycles of the phantom (default 3).")] = None,
) -> None:
    """Phantom vs truth (per denoising target, or over --variants of the phantom family), step wedge, bad input."""
    import sys

    from ..bench.neutron import TARGETS, run_benchmark

    targets = tuple(target or ("delta_a", "transmission", "raw"))
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise InputError(f"--target {unknown[0]!r}: choose {', '.join(TARGETS)}")
    if data is not None and not data.is_dir():
        raise InputError(f"{data}: --data is not a folder; give the step-wedge folder (exp5s_ob.tif, ...)")
    if data is None:
        data = Path("../shared/data/neutron/stepwedge")
        if not data.is_dir():
            note_line(f"the step-wedge folder {data} is not there: the real-data part is skipped (give --data)")
    changes: dict[str, Any] = {k: v for k, v in (("frames_per_half_cycle", frames_per_half_cycle),
                                                  ("n_cycles", cycles)) if v is not None}
    if changes:
        from ..neutron import default_config

        default_config(**changes)  # every range checked before the folder is made
    command = "operando " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("operando") else ""
    with output_folder(output, inputs=[data]), progress_bar("neutron benchmark") as update:
        res = run_benchmark(output, time_budget_s=time_budget, seed=seed, data_dir=data, targets=targets,
                            variants=variants, max_steps=max_steps, command=command, progress=update, **changes)
    if "family" in res:
        _print_neutron_family(res["family"])
        console.print(f"report: {Path(output) / 'neutron_benchmark.json'}, {Path(output) / 'neutron_variants.md'}")
        return
    ph = res["phantom"]
    rows = [{"name": t, "variability raw": ph[t]["raw"]["dynamic_variability"],
             "denoised": ph[t]["denoised"]["dynamic_variability"], "cut": ph[t]["variability_cut"],
             "AAF err raw": ph[t]["raw"]["active_area_max_error"],
             "AAF err den": ph[t]["denoised"]["active_area_max_error"],
             "edge err px": ph[t]["denoised"]["inactive_edge_error_px"], "coverage": ph[t]["coverage_1.96sd_raw"],
             "rmse den": ph[t]["denoised"]["rmse"]} for t in ph if isinstance(ph[t], dict) and "raw" in ph[t]]
    print_rows(rows, "neutron phantom (denoised target per row)")
    console.print(f"report: {Path(output) / 'neutron_benchmark.json'}")


def _print_neutron_family(family: dict[str, Any]) -> None:
    """Print the worst / median / spread of each figure over the variants and whether each target holds."""
    targets = family["summary"]["targets"]
    rows = []
    for key, row in family["summary"]["figures"].items():
        target = targets.get(key)
        rows.append({"name": key, "target": target["target"] if target else "", "worst": row["worst"],
                     "median": row["median"], "min": row["min"], "max": row["max"],
                     "holds": "" if target is None else "yes" if target["holds"] else "NO"})
    print_rows(rows, f"neutron phantom family: {len(family['variants'])} variants (worst / median / spread)")


@app.command("optical")
@cli_errors
def benchmark_optical_cmd(
    output: OutputDirOption = Path("benchmark-optical"),
    size: Annotated[int, typer.Option(min=MIN_PHANTOM_SIZE, max=8192, help=f"Phantom frame size, pixels "
                                      f"({MIN_PHANTOM_SIZE} to 8192).")] = 384,
    particles: Annotated[int, typer.Option(min=1, max=10_000, help="Phantom particles (1 to 10000).")] = 200,
    frames: Annotated[int, typer.Option(min=2, max=100_000, help="Phantom frames (2 to 100000).")] = 40,
    denoiser: Annotated[Optional[list[str]], typer.Option(help="Denoisers (repeat; default video and "
                                                          "gaussian).")] = None,
    time_budget: TimeBudgetOption = 90.0,
    speed: Annotated[bool, typer.Option(help="Also time a 1000 x 1000 phantom with 300 particles.")] = True,
    variants: Annotated[int, typer.Option(min=1, max=1000, help="Phantoms drawn from the family "
                                          "(operando.optical.draw_variant, seeds SEED..SEED+N-1; e.g. 8): report "
                                          "the worst case, median and spread. 1: the single default phantom, "
                                          "as before.")] = 1,
    max_steps: Annotated[Optional[int], typer.Option(min=1, help="Neural denoisers stop after this many training "
                                                     "steps (step-bounded: figures independent of the "
                                                     "load).")] = None,
    seed: SeedOption = 0,
) -> None:
    """Optical workflow on the phantom (or a family of them): F1, stage accuracy, transition error, hue bias."""
    from ..bench.optical import benchmark_optical, benchmark_optical_variants
    from ..denoise import check_method
    from ..workflows.optical import DENOISE_CHOICES

    methods = tuple(denoiser or (["video"] if variants > 1 else ["video", "gaussian"]))
    for method in methods:  # unknown denoisers refused before the phantom is rendered
        check_method(method, "--denoiser", allow=DENOISE_CHOICES)
    if variants > 1:
        with output_folder(output, inputs=[]), progress_bar("optical benchmark (family)") as update:
            record = benchmark_optical_variants(output, n_variants=variants, shape=(size, size),
                                                n_particles=particles, n_frames=frames, denoisers=methods,
                                                time_budget_s=time_budget, max_steps=max_steps, seed=seed,
                                                progress=update)
        print_rows([{k: r[k] for k in ("variant", "background", "input", "instance_f1", "stage_accuracy",
                                       "accuracy_drop_pts", "t_II_err_frames", "t_I_err_frames",
                                       "moved_regions_pct")} for r in record["rows"]],
                   f"optical benchmark: {variants} variants")
        print_rows(record["summary"], "worst / median / spread over the variants (met: the worst case)")
        console.print(f"report: {output / 'report.md'}, {output / 'benchmark.json'}")
        return
    with output_folder(output, inputs=[]), progress_bar("optical benchmark") as update:
        record = benchmark_optical(output, shape=(size, size), n_particles=particles, n_frames=frames,
                                   denoisers=methods, time_budget_s=time_budget, max_steps=max_steps, speed=speed,
                                   seed=seed, progress=update)
    print_rows(record["rows"], "optical benchmark (phantom)")
    if record["speed"]:
        print_rows([record["speed"]], "analysis speed (no denoising)")
    console.print(f"report: {output / 'report.md'}")


@app.command("kinetics")
@cli_errors
def benchmark_kinetics_cmd(
    output: OutputDirOption = Path("benchmark-kinetics"),
    noise: Annotated[Optional[list[float]], typer.Option(help="Noise sd of the composition video (repeat; "
                                                         "default 0, 0.05, 0.07).", min=0)] = None,
    direction: Annotated[Optional[list[str]], typer.Option(help="lithiation, delithiation (repeat; default "
                                                           "both).")] = None,
    denoised: Annotated[bool, typer.Option(help="Also fit the video-denoised input of each noisy case.")] = True,
    size: Annotated[int, typer.Option(help="Field side, pixels (48 to 1024).", min=48, max=1024)] = 96,
    frames: Annotated[int, typer.Option(help="Frames (5 to 2000).", min=5, max=2000)] = 40,
    particles: Annotated[int, typer.Option(help="Particles (1 to 16).", min=1, max=16)] = 4,
    k_modes: Annotated[Optional[int], typer.Option(help="Rate-map modes per particle (default area / 8).",
                                                   min=1, max=400)] = None,
    time_budget: TimeBudgetOption = 120.0,
    max_steps: MaxStepsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Reaction kinetics learned back from phantoms of reacting particles: mu_h, j0, ln k against the truth."""
    from ..bench.kinetics import benchmark_kinetics

    directions = tuple(direction or ("lithiation", "delithiation"))
    unknown = [d for d in directions if d not in ("lithiation", "delithiation")]
    if unknown:
        raise InputError(f"--direction {unknown[0]!r}: choose lithiation or delithiation")
    fit = {"k_modes": k_modes} if k_modes else {}
    with output_folder(output), progress_bar("kinetics benchmark") as update:
        record = benchmark_kinetics(output, noises=tuple(noise if noise is not None else (0.0, 0.05, 0.07)),
                                    directions=directions, denoised=denoised,
                                    phantom_settings={"size": size, "frames": frames, "particles": particles},
                                    fit_settings=fit, denoise_budget_s=time_budget, max_steps=max_steps, seed=seed,
                                    progress=update)
    print_rows([{k: r[k] for k in ("direction", "noise_sd", "input", "mu_h_max_error_kT", "j0_shape_error",
                                   "j0_peak_error", "log_k_r", "band_coverage", "residual_over_sigma", "seconds")}
                for r in record["rows"]], "kinetics on the phantom (c in [0.1, 0.9])")
    console.print(f"report: {output / 'kinetics.json'}, {output / 'kinetics.csv'}")


@app.command("kinetics-chain")
@cli_errors
def benchmark_kinetics_chain_cmd(
    output: OutputDirOption = Path("benchmark-kinetics-chain"),
    denoise: Annotated[Optional[list[str]], typer.Option(help="stxm composition --denoise value per fit (repeat; "
                                                         "default none and tv).")] = None,
    size: Annotated[int, typer.Option(help="STXM pixels per side (32 to 512).", min=32, max=512)] = 96,
    frames: Annotated[int, typer.Option(help="Frames (5 to 400).", min=5, max=400)] = 40,
    particles: Annotated[int, typer.Option(help="Particles (1 to 16).", min=1, max=16)] = 4,
    delithiation: Annotated[bool, typer.Option(help="From c = 0.95 down to 0.05.")] = False,
    time_budget: TimeBudgetOption = 600.0,
    seed: SeedOption = 0,
) -> None:
    """Run the chain on the STXM phantom: counts -> stxm composition -> learn --model acr, scored on the truth."""
    from ..bench.kinetics_chain import COLUMNS, run_chain

    with output_folder(output), progress_bar("kinetics chain") as update:
        record = run_chain(output, seed=seed, size=size, frames=frames, particles=particles,
                           delithiation=delithiation, denoisers=tuple(denoise or ("none", "tv")),
                           time_budget_s=time_budget, progress=update)
    print_rows([{k: r.get(k) for k in ("input", *COLUMNS)} for r in record["rows"]],
               "kinetics from STXM phantom counts (c in [0.1, 0.9])")
    console.print(f"report: {output / 'chain.json'}, {output / 'chain.csv'}")
