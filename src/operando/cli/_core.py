"""The ``operando`` command: a thin layer over the Python API (parse, call one function, write, summarise)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._errors import InputError
from ..denoise import method_names
from ._common import (
    VERBOSITY,
    AxesOption,
    DeviceOption,
    JsonOption,
    KeepFloatOption,
    OneLineGroup,
    OutputDirOption,
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
from ._scale import AllowMissingOption, MemoryLimitOption, SchedulerOption, run_streamed, stream_denoise, wants_stream

app = typer.Typer(
    name="operando",
    help="Self-supervised denoising and physics-validated quantification of operando microscopy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=OneLineGroup,
)


def odd_window(value: int | None) -> int | None:
    """Typer callback: the video denoiser's window, odd (the target frame in the middle) and >= 3."""
    if value is not None and (value < 3 or value % 2 == 0):
        raise typer.BadParameter(f"must be odd and >= 3 (the target frame in the middle), got {value}")
    return value




def _fill_missing(stack: Any) -> tuple[Any, Any]:
    """Set the pixels of chunks read as NaN (``--allow-missing``) to the median for a denoiser; return their mask."""
    from ..workflows.scale import fill_masked

    filled, mask = fill_masked(stack.to_numpy())
    if mask is not None and mask.all():
        raise InputError(f"{stack.metadata.source}: every chunk is missing; there is nothing to denoise")
    return (stack, None) if mask is None else (stack.with_data(filled), mask)


def _write_restoring(result: Any, output: Path, mask: Any, keep_float: bool) -> str:
    """Write a denoised stack; pixels of missing chunks are NaN again (then always float32). Return the dtype."""
    from ..io import write

    if mask is None:
        write(result, output, dtype="float32" if keep_float else "input")
        return "float32" if keep_float else str(result.metadata.original_dtype or result.dtype)
    import warnings

    import numpy as np

    data = result.to_numpy().astype(np.float32)
    data[mask] = np.nan
    write(result.with_data(data), output, dtype="float32")
    warnings.warn(f"{int(mask.sum())} pixel(s) of missing chunks were given the median for the denoiser (which also "
                  "sees them beside and around the pixels it restores) and are written as NaN (float32, so that they "
                  "stay masked)", UserWarning, stacklevel=2)
    return "float32"


def _complete_frames(stack: Any) -> Any:
    """Keep the frames with no pixel of a missing chunk (``--allow-missing``): the noise is measured on those."""
    import warnings

    import numpy as np

    data = stack.to_numpy()
    if data.dtype.kind != "f" or not np.isnan(data).any():
        return stack
    if "T" not in stack.axes and "E" not in stack.axes:
        raise InputError(f"{stack.metadata.source}: the image has missing chunks; the noise of a partial image is not "
                         "measured: restore the store")
    seq = stack.axes.index("T" if "T" in stack.axes else "E")
    other = tuple(i for i in range(data.ndim) if i != seq)
    whole = ~np.isnan(data).any(axis=other)
    if not whole.any():
        raise InputError(f"{stack.metadata.source}: every frame has a missing chunk; nothing complete to measure")
    warnings.warn(f"the noise is measured on the {int(whole.sum())} of {whole.size} frames without missing chunks",
                  UserWarning, stacklevel=2)
    return stack.with_data(np.compress(whole, data, axis=seq))


def model_target(path: Path | None, option: str) -> Any:
    """Describe a saved model (``NAME.safetensors`` + ``NAME.json``) for the output guard (None: not given)."""
    if path is None:
        return None
    from .._files import Target
    from ..denoise import check_model_path, model_files

    check_model_path(path)
    weights, settings = model_files(path)
    return Target(weights, option, companions=(settings,))

def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        console.print(f"operando {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv: debug).")] = 0,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_print_version)] = False,
) -> None:
    """operando: make noisy operando microscopy quantitative."""
    level = logging.WARNING if verbose == 0 else (logging.INFO if verbose == 1 else logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    VERBOSITY["level"] = verbose
    if verbose == 0:  # readers' own log lines (tifffile's ERROR on a damaged file) would add to the one-line error
        for name in ("tifffile", "h5py", "zarr", "numcodecs", "PIL", "libav"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


@app.command()
@cli_errors
def corrupt(
    input: Annotated[Path, typer.Argument(help="Clean input file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Noisy output file.")],
    noise: Annotated[str, typer.Option(help="Noise model(s), e.g. gaussian:0.1, poisson:30, impulse:0.2, "
                                       "mixed:30,0.05, scanline:0.05, fixed:0.05; join with '+'.")],
    seed: SeedOption = 0,
    axes: AxesOption = None,
) -> None:
    """Add seeded noise to a clean stack (written as float32, with the noise and the seed in its record)."""
    from .._stack import Stack
    from ..io import read, write
    from ..noise import corrupt as corrupt_stack
    from ..noise import parse_noise

    guard(data_target(output), inputs=[input])
    parse_noise(noise)
    stack = read(input, axes=axes)
    noisy = corrupt_stack(stack, noise, rng=seed)
    record = {"noise": noise, "seed": seed}  # what made the noise, read back as metadata.extra["corrupt"]
    noisy = Stack(noisy.data, noisy.axes, noisy.metadata.replace(extra={**noisy.metadata.extra, "corrupt": record}))
    write(noisy, output, dtype="float32")
    console.print(f"wrote {output}: {noise} noise, seed {seed}, shape {noisy.shape}")


@app.command()
@cli_errors
def evaluate(
    candidates: Annotated[list[Path], typer.Argument(help="Stacks to measure (noisy, denoised, ...).")],
    clean: Annotated[Path, typer.Option(help="The clean reference.")],
    data_range: Annotated[Optional[float], typer.Option(help="R in PSNR, > 0 (default: 1 for data in [0, 1], "
                                                        "dtype range for integers, else max - min).",
                                                        callback=above_zero)] = None,
    skip_edge_frames: Annotated[int, typer.Option(help="Frames left out at each end (>= 0).", min=0)] = 0,
    csv: Annotated[Optional[Path], typer.Option(help="Also write the table as CSV (.csv).")] = None,
    json_path: JsonOption = None,
    axes: AxesOption = None,
) -> None:
    """Measure PSNR, SSIM, bias, mass drift and variability of stacks against a clean one."""
    import numpy as np

    from ..io import read
    from ..metrics import as_frames, default_data_range
    from ..metrics import evaluate as evaluate_stacks

    guard(file_target(csv, "--csv", (".csv",)), file_target(json_path, "--json", (".json",)),
          inputs=[*candidates, clean])
    ref = read(clean, axes=axes)
    names = [p.name for p in candidates]
    names = names if len(set(names)) == len(names) else [str(p) for p in candidates]  # a/d.tif and b/d.tif
    if len(set(names)) != len(names):
        raise InputError("the same stack is given twice; give each candidate once")
    stacks = {name: read(p, axes=axes) for name, p in zip(names, candidates, strict=True)}
    for name, s in stacks.items():
        if s.shape != ref.shape:
            raise InputError(f"{name}: shape {s.shape} differs from the clean stack's {ref.shape}")
    n_frames = as_frames(ref).shape[0]
    if skip_edge_frames and 2 * skip_edge_frames >= n_frames:
        raise InputError(f"--skip-edge-frames {skip_edge_frames} leaves none of the {n_frames} frame(s); pass at "
                         f"most {max((n_frames - 1) // 2, 0)}")
    rng_used = data_range if data_range is not None else default_data_range(np.asarray(ref.data))
    rows = [e.to_dict() for e in evaluate_stacks(ref, stacks, data_range=rng_used, skip_edge_frames=skip_edge_frames)]
    print_rows(rows, f"against {clean.name} (data range {rng_used:g})")
    from .._files import write_csv_file, write_json_file
    from .._provenance import versions

    if csv is not None:
        write_csv_file(csv, rows)
    if json_path is not None:
        write_json_file(json_path, {"data_range": rng_used, "skip_edge_frames": skip_edge_frames, "rows": rows,
                                    "versions": versions()})


@app.command()
@cli_errors
def info(
    input: Annotated[Path, typer.Argument(help="A file to describe.")],
    axes: AxesOption = None,
    allow_missing: AllowMissingOption = False,
) -> None:
    """Print a file's shape, axes, dtype, value range and metadata."""
    import numpy as np

    from ..io import read

    stack = read(input, axes=axes, allow_nan=True, allow_missing=allow_missing)
    data = np.asarray(stack.data)
    if data.dtype.kind == "c":
        data = np.abs(data)
    finite = np.isfinite(data) if data.dtype.kind == "f" else np.ones(data.shape, bool)
    if data.size == 0 or not finite.any():
        values = "no finite pixel" if data.size else "no pixels"
    else:
        kept = data[finite]
        values = f"min {kept.min():.4g}, max {kept.max():.4g}, mean {kept.mean(dtype=np.float64):.4g}"
        if not finite.all():
            values += f", {int(data.size - finite.sum())} NaN or infinite pixel(s)"
    console.print(f"{input}: shape {stack.shape}, axes {stack.axes}, dtype {stack.dtype}, {values}")
    meta = {k: v for k, v in stack.metadata.to_dict().items() if v not in (None, {}, [])}
    if meta.get("frame_times"):
        meta["frame_times"] = f"{len(meta['frame_times'])} times"
    console.print(meta)


@app.command()
@cli_errors
def demo(
    output: OutputDirOption = Path("operando-demo"),
    quick: Annotated[bool, typer.Option(help="A tiny run (seconds) to check the installation.")] = False,
    noise: Annotated[str, typer.Option(help="Noise added to the simulated video.")] = "gaussian:0.1",
    method: Annotated[str, typer.Option(help="Denoiser (auto picks the best available).")] = "auto",
    time_budget: Annotated[Optional[float], typer.Option(help="Denoiser training budget, seconds (> 0).",
                                                         callback=above_zero)] = None,
    learn: Annotated[bool, typer.Option(help="Learn mu_h(c) and D(c) back from the videos.")] = True,
    seed: SeedOption = 0,
) -> None:
    """Simulate, corrupt, denoise, measure and learn physics on built-in data; write a report."""
    from ..bench.demo import DemoConfig, run_demo
    from ..denoise import check_method
    from ..noise import parse_noise

    parse_noise(noise)
    check_method(method, "--method", allow=("auto",))
    changes: dict[str, Any] = {"noise": noise, "method": method, "learn": learn, "seed": seed}
    if time_budget is not None:
        changes["time_budget_s"] = time_budget
    cfg = DemoConfig.quick(**changes) if quick else DemoConfig(**changes)
    with output_folder(output), progress_bar("demo") as update:
        result = run_demo(output, config=cfg, progress=update)
    print_rows([{k: v for k, v in r.items()} for r in result.rows], "denoising (data range 1)")
    if result.physics:
        keys = ("data", "mu_h_rel_l2", "mobility_rel_l2", "status", "stop_reason", "seconds")
        print_rows([{k: r[k] for k in keys} for r in result.physics["rows"]], "physics learned back (rel. L2)")
    console.print(f"report: {result.report} (and report.html beside it)")


@app.command("denoise")
@cli_errors
def denoise_cmd(
    input: Annotated[Path, typer.Argument(help="Noisy input file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Denoised output file.")],
    method: Annotated[str, typer.Option(help="auto (default: chosen from the measured noise, printed with the "
                                        "reason and recorded in the output), " + ", ".join(method_names())
                                        + ".")] = "auto",
    frames: Annotated[int, typer.Option("--window-frames", help="Frames in the video denoiser's window (odd, >= 3; "
                                        "--frames elsewhere counts a video's frames).", callback=odd_window)] = 5,
    time_budget: TimeBudgetOption = 300.0,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    save_model: Annotated[Optional[Path], typer.Option(help="Save the trained network here.")] = None,
    model: Annotated[Optional[Path], typer.Option(help="Apply this saved network instead of training.")] = None,
    axes: AxesOption = None,
    keep_float: KeepFloatOption = False,
    tta: Annotated[bool, typer.Option(help="Networks: average over the training flips/rotations (8x slower "
                                          "inference, usually better).")] = False,
    ensemble: Annotated[int, typer.Option(help="Networks: train this many with child seeds of --seed "
                                               "(SeedSequence.spawn; each with the full budget), average them.",
                                          min=1)] = 1,
    memory_limit: MemoryLimitOption = None,
    allow_missing: AllowMissingOption = False,
    scheduler: SchedulerOption = None,
) -> None:
    """Denoise a stack, trained on the stack itself (no clean data needed).

    A .zarr output (or --memory-limit / --scheduler) streams: the stack is read and written chunk by chunk,
    resumably, and training uses a bounded sample of its frames (docs/large-data.md).
    """
    from ..denoise import NEURAL, check_method, denoise
    from ..io import read

    guard(data_target(output), model_target(save_model, "--save-model"), inputs=[input, model])
    if ensemble != 1 and (model is not None or save_model is not None):
        raise InputError("--ensemble trains and averages several networks; it cannot be combined with --model or "
                         "--save-model (use 'operando train' for one network)")
    if model is None and check_method(method, "--method", allow=("auto",)) != "auto":
        if save_model is not None and method not in NEURAL:
            raise InputError(f"--save-model saves a trained network; {method!r} is a filter with nothing to save "
                             f"(networks: {', '.join(NEURAL)}); leave --save-model out")
        if ensemble != 1 and method not in NEURAL:
            raise InputError(f"--ensemble averages trained networks ({', '.join(NEURAL)}); {method!r} is "
                             "deterministic: leave --ensemble out")
    if ensemble == 1 and wants_stream(output, memory_limit, scheduler):
        return stream_denoise(input, output, method=method, model=model, frames=frames, time_budget_s=time_budget,
                              rng=seed, axes=axes, memory_limit=memory_limit, scheduler=scheduler, tta=tta,
                              device=device, dtype="float32" if keep_float else "input", save_model=save_model,
                              allow_missing=allow_missing)
    stack, missing = _fill_missing(read(input, axes=axes, allow_missing=allow_missing))
    choice = _auto_choice(stack, save_model) if method == "auto" and model is None else None
    method = choice.method if choice is not None else method
    if model is not None or (save_model is not None and method in NEURAL):
        result = _network_run(stack, model, save_model, choice, method=method, frames=frames, time_budget_s=time_budget,
                              rng=seed, device=device, tta=tta)
    else:
        with progress_bar(method) as update:
            result = denoise(stack, method="auto" if choice is not None else method, frames=frames,
                             time_budget_s=time_budget, rng=seed, device=device, tta=tta, ensemble=ensemble,
                             progress=update, diagnosis=None if choice is None else choice.diagnosis)
    dtype = _write_restoring(result, output, missing, keep_float)
    console.print(f"wrote {output}: {method}, shape {result.shape}, dtype {dtype}")


def _auto_choice(stack: Any, save_model: Path | None) -> Any:
    """Measure the noise once for ``--method auto``, choose, print the choice (its Diagnosis goes on with it)."""
    from ..denoise import NEURAL, choose_method

    choice = choose_method(stack)
    console.print(f"method auto -> {choice.method}: {choice.reason}", highlight=False)
    if save_model is not None and choice.method not in NEURAL:
        import warnings

        warnings.warn(f"--save-model: auto chose the filter {choice.method}, which has no network to save; nothing "
                      f"was written to {save_model}", UserWarning, stacklevel=3)
    return choice


def _network_run(stack: Any, model: Path | None, save_model: Path | None, choice: Any, **settings: Any) -> Any:
    """Apply ``--model``, or train a network (from the choice's Diagnosis), save it and apply it; record ``auto``.

    The saved model's JSON and the output's record carry the choice and its reason (a loaded model: the choice
    it was trained for, if any).
    """
    from ..denoise import load_model, predict, record_choice, train_denoiser
    from ..denoise import save_model as save

    if model is not None:
        net = load_model(model)
    else:
        with progress_bar(settings["method"]) as update:
            net = train_denoiser(stack, method=settings["method"], frames=settings["frames"],
                                 time_budget_s=settings["time_budget_s"], rng=settings["rng"],
                                 device=settings["device"], progress=update,
                                 diagnosis=None if choice is None else choice.diagnosis)
        net.auto = None if choice is None else choice.to_dict()
        save(net, save_model)
    return record_choice(predict(net, stack, device=settings["device"], tta=settings["tta"]), net.auto)


@app.command()
@cli_errors
def train(
    input: Annotated[Path, typer.Argument(help="Noisy stack to train on.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model path (writes .safetensors + .json).")],
    method: Annotated[Optional[str], typer.Option(help="A network: " + ", ".join(method_names("neural"))
                                                   + " (default video; a resumed model keeps its own).")] = None,
    frames: Annotated[Optional[int], typer.Option("--window-frames", help="Frames in the video denoiser's window "
                                                  "(odd, >= 3, default 5).", callback=odd_window)] = None,
    time_budget: TimeBudgetOption = 300.0,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after this many steps (>= 1).", min=1)] = None,
    loss: Annotated[str, typer.Option(help="auto, mse, l1 or poisson.")] = "auto",
    resume: Annotated[Optional[Path], typer.Option(help="Continue training this saved model.")] = None,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    axes: AxesOption = None,
) -> None:
    """Train a self-supervised denoiser on a noisy stack and save it."""
    from ..denoise import check_method, load_model, make_config, save_model, train_denoiser
    from ..io import read

    guard(model_target(output, "-o"), inputs=[input, resume])
    if method is None and resume is None:
        method = "video"
    if method is not None:
        check_method(method, "--method", kinds="neural")
    settings = {"method": method, "frames": frames, "time_budget_s": time_budget, "max_steps": max_steps,
                "loss": loss}
    make_config(**{k: v for k, v in settings.items() if v is not None})  # a bad setting: one line, before work
    previous = load_model(resume) if resume is not None else None
    stack = read(input, axes=axes)
    with progress_bar(method or "training") as update:
        net = train_denoiser(stack, method=method, frames=frames, time_budget_s=time_budget, max_steps=max_steps,
                             loss=loss, rng=seed, device=device, resume=previous, progress=update)
    path = save_model(net, output)
    last = (f"last validation loss {net.history[-1]['val_loss']:.4g}" if net.history else
            f"no validation check yet (one every {net.config.val_every} steps)")
    console.print(f"saved {path} (+ .json): {net.steps} steps, loss {net.loss}, {last}")


@app.command("predict")
@cli_errors
def predict_cmd(
    input: Annotated[Path, typer.Argument(help="Noisy input file.")],
    model: Annotated[Path, typer.Option(help="A model saved by 'operando train'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Denoised output file.")],
    device: DeviceOption = "auto",
    tile: Annotated[int, typer.Option(help="Tile size in pixels (memory bound; >= 32).", min=32)] = 256,
    axes: AxesOption = None,
    keep_float: KeepFloatOption = False,
    tta: Annotated[bool, typer.Option(help="Networks: average over the training flips/rotations (8x slower "
                                          "inference, usually better).")] = False,
    memory_limit: MemoryLimitOption = None,
    allow_missing: AllowMissingOption = False,
    scheduler: SchedulerOption = None,
) -> None:
    """Apply a saved denoiser to a stack (a .zarr output streams, resumably: docs/large-data.md)."""
    from ..denoise import load_model, predict
    from ..io import read

    guard(data_target(output), inputs=[input, model])
    if wants_stream(output, memory_limit, scheduler):
        return run_streamed("predict", input=input, output=output, model=model, axes=axes, memory_limit=memory_limit,
                            scheduler=scheduler, tta=tta, device=device, tile=tile,
                            dtype="float32" if keep_float else "input", allow_missing=allow_missing)
    net = load_model(model)
    stack, missing = _fill_missing(read(input, axes=axes, allow_missing=allow_missing))
    result = predict(net, stack, device=device, tile=tile, tta=tta)
    _write_restoring(result, output, missing, keep_float)
    console.print(f"wrote {output}: shape {result.shape}")


@app.command("diagnose")
@cli_errors
def diagnose_cmd(
    input: Annotated[Path, typer.Argument(help="Noisy stack.")],
    axes: AxesOption = None,
    json_path: JsonOption = None,
    denoised: Annotated[Optional[Path], typer.Option(help="A denoised version of the input: check its residual "
                                                          "(no clean data needed).")] = None,
    allow_missing: AllowMissingOption = False,
) -> None:
    """Describe the noise (level, impulses, correlation lags/length/PSD, stripes) and recommend a method.

    With --denoised, also check the residual (noisy - denoised) against the noise, no clean data needed.
    """
    from ..denoise import diagnose
    from ..io import read

    guard(file_target(json_path, "--json", (".json",)), inputs=[input, denoised])
    stack = _complete_frames(read(input, axes=axes, allow_missing=allow_missing))
    d = diagnose(stack)
    record = d.to_dict()
    rows = [{"name": k, "value": v} for k, v in record.items() if k not in ("notes", "noise_correlation")]
    corr = record["noise_correlation"] or {}
    rows += [{"name": f"noise {k}", "value": ", ".join(f"{x:.3f}" for x in v) if isinstance(v, list) else v}
             for k, v in corr.items()]
    print_rows(rows, f"noise diagnosis of {input.name}")
    for note in d.notes:
        console.print(f"- {note}")
    console.print(f"recommended: {d.recommended_method} ({d.recommended_reason})", highlight=False)
    if denoised is not None and d.constant:
        import warnings

        warnings.warn(f"residual check of {denoised.name} skipped: the input is constant, so there is no noise to "
                      "compare the residual with", UserWarning, stacklevel=2)
        record["residual_check"] = None
    elif denoised is not None:
        from ..metrics import check_residual

        check = check_residual(stack, read(denoised, axes=axes), noise=d.noise_correlation)
        record["residual_check"] = check.to_dict()
        print_rows([{"name": k, "value": ", ".join(f"{x:.3f}" for x in v) if isinstance(v, tuple) else v}
                    for k, v in check.to_dict().items() if k != "problems"], f"residual of {denoised.name}")
        console.print("residual check: " + ("passed" if check.passed else "; ".join(check.problems)), highlight=False)
    if json_path is not None:
        from .._files import write_json_file
        from .._provenance import versions

        write_json_file(json_path, {**record, "versions": versions()})


if __name__ == "__main__":  # pragma: no cover
    app()
