"""A synthetic operando optical video of a graphite electrode, with ground truth.

Particles (polydisperse irregular flakes, some touching) lithiate III -> II -> I by fronts moving in from their
edges, at rates that fall with their size; the electrode swells a little and drifts. Frames are rendered to
RGB with uneven illumination, haze, lamp flicker and Poisson-Gaussian camera noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .._errors import InputError
from .._progress import Progress, emit
from .._stack import Metadata, Stack
from ._stages import STAGE_CODES

#: sRGB colours (0-1) of the phantom's materials: stage III blue, stage II red, stage I gold, background.
PHANTOM_COLOURS: dict[str, tuple[float, float, float]] = {
    "III": (0.16, 0.26, 0.62), "II": (0.62, 0.16, 0.14), "I": (0.85, 0.66, 0.22), "background": (0.10, 0.10, 0.11),
}


@dataclass(frozen=True)
class GraphitePhantom:
    """A phantom video and its ground truth.

    Attributes
    ----------
    video : Stack
        ``TYXC`` uint8 RGB frames with illumination, haze, flicker and camera noise.
    clean : Stack
        ``TYXC`` float32 frames in [0, 1] rendered the same way without camera noise.
    labels : ndarray, shape (T, Y, X), uint16
        Particle ids per frame (0 background); an id names the same particle in every frame.
    stages : ndarray, shape (T, Y, X), uint8
        Stage per pixel: 0 background, 1 stage III, 2 stage II, 3 stage I.
    particles : list of dict
        Per particle: id, radius_px, rate (progress per frame), onset_frame.
    config : dict
        The parameters and the concrete seed.
    """

    video: Stack
    clean: Stack
    labels: np.ndarray
    stages: np.ndarray
    particles: list[dict]
    config: dict


def concrete_seed(rng: int | np.random.Generator | None) -> int:
    """Return a concrete seed to record: the int given, one drawn from a Generator, or fresh entropy.

    Parameters
    ----------
    rng : int, Generator or None
        What the caller passed as ``rng``.

    Returns
    -------
    int
        A seed in [0, 2**31) (an int given is returned as it is).

    Raises
    ------
    InputError
        For a negative seed.
    """
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**31))
    if rng is None:
        return int(np.random.SeedSequence().entropy % 2**31)
    if int(rng) < 0:
        raise InputError(f"seed {rng} is negative; give a seed >= 0")
    return int(rng)


def _flake(radius: float, rng: np.random.Generator) -> dict:
    """Draw an irregular flake: radius, aspect ratio, orientation and a few boundary harmonics."""
    k = np.arange(2, 6)
    return {"radius": radius, "aspect": rng.uniform(1.0, 1.7), "angle": rng.uniform(0, np.pi),
            "amp": rng.normal(0, 0.07, k.size) / np.sqrt(k - 1), "phase": rng.uniform(0, 2 * np.pi, k.size)}


def _extent(flake: dict) -> float:
    """Return the largest distance of the flake's boundary from its centre."""
    return flake["radius"] * np.sqrt(flake["aspect"]) * (1 + np.abs(flake["amp"]).sum())


def _place(n: int, shape: tuple[int, int], radius_px: float, polydispersity: float, touching: float,
           rng: np.random.Generator) -> list[dict]:
    """Place ``n`` flakes without overlap, a share ``touching`` of them pressed against a neighbour."""
    flakes: list[dict] = []
    for _ in range(50 * n):
        if len(flakes) == n:
            break
        f = _flake(radius_px * float(np.clip(rng.lognormal(0, polydispersity), 0.5, 2.2)), rng)
        ext = _extent(f)
        if flakes and rng.random() < touching:
            other = flakes[rng.integers(len(flakes))]
            angle = rng.uniform(0, 2 * np.pi)
            dist = 0.95 * (f["radius"] + other["radius"])
            centre = other["centre"] + dist * np.array([np.sin(angle), np.cos(angle)])
        elif min(shape) < 2 * ext + 4:  # this flake does not fit in the frame: draw another
            continue
        else:
            centre = rng.uniform(ext + 2, np.array(shape) - ext - 2)
        if np.any(centre < ext + 2) or np.any(centre > np.array(shape) - ext - 2):
            continue
        gap = [np.hypot(*(centre - g["centre"])) - 0.95 * (f["radius"] + g["radius"]) for g in flakes]
        near = [i for i, d in enumerate(gap) if d < 1.0]
        if len(near) > 1 or (near and gap[near[0]] < -0.02 * (f["radius"] + flakes[near[0]]["radius"])):
            continue
        if any(np.hypot(*(centre - g["centre"])) < 1.05 * (_extent(g) + ext)
               for i, g in enumerate(flakes) if i not in near):
            continue
        f["centre"] = centre
        flakes.append(f)
    return flakes


def _flake_mask(f: dict, centre: np.ndarray, scale: float, shape: tuple[int, int]
                ) -> tuple[tuple[slice, slice], np.ndarray]:
    """Rasterise a flake at ``centre`` grown by ``scale``: its bounding box (inside the frame) and mask."""
    ext = _extent(f) * scale + 2
    y0, x0 = np.maximum(np.floor(centre - ext).astype(int), 0)
    y1, x1 = np.minimum(np.ceil(centre + ext).astype(int) + 1, shape)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    dy, dx = yy - centre[0], xx - centre[1]
    c, s = np.cos(f["angle"]), np.sin(f["angle"])
    u, v = (dx * c + dy * s) / np.sqrt(f["aspect"]), (-dx * s + dy * c) * np.sqrt(f["aspect"])
    phi = np.arctan2(v, u)
    k = np.arange(2, 6)[:, None, None]
    wobble = (f["amp"][:, None, None] * np.cos(k * phi - f["phase"][:, None, None])).sum(0)
    boundary = f["radius"] * scale * (1 + wobble)
    return (slice(y0, y1), slice(x0, x1)), np.hypot(u, v) <= boundary


def _paint_frame(flakes: list[dict], shape: tuple[int, int], progress: np.ndarray, offset: np.ndarray,
                 swelling: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the labels and stage codes of one frame; fronts move in from each particle's edge."""
    labels = np.zeros(shape, np.uint16)
    stages = np.zeros(shape, np.uint8)
    codes = STAGE_CODES
    for i, f in enumerate(flakes):
        box, mask = _flake_mask(f, f["centre"] + offset, 1 + swelling * progress[i] / 2, shape)
        depth = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        depth = depth / max(depth.max(), 1.0)
        p = progress[i]
        stage = np.where(depth < p, codes["II"], codes["III"]) if p < 1 else \
            np.where(depth < p - 1, codes["I"], codes["II"])
        labels[box][mask] = i + 1
        stages[box][mask] = stage[mask]
    return labels, stages


def _render(stages: np.ndarray, labels: np.ndarray, flakes: list[dict], fields: dict, t: int) -> np.ndarray:
    """Render one frame's stage map to RGB in [0, 1] (before camera noise)."""
    palette = fields["palette"]
    rgb = palette[np.minimum(stages, 3)]
    shade = fields["brightness"][labels] * (fields["texture"][..., None] if labels.any() else 1.0)
    edge = ndi.distance_transform_edt(labels > 0)
    shade = shade * (0.75 + 0.25 * np.minimum(edge / 2.0, 1.0))[..., None]
    rgb = np.where(labels[..., None] > 0, rgb * shade, rgb * fields["bg_texture"][..., None])
    rgb = ndi.gaussian_filter(rgb, sigma=(fields["psf_px"], fields["psf_px"], 0))
    haze = fields["haze"]
    rgb = (1 - haze) * rgb + haze * fields["airlight"]
    return np.clip(rgb * fields["illumination"][..., None] * fields["flicker"][t], 0, None)


def _smooth_noise(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Return zero-mean unit-std smooth random field."""
    field = ndi.gaussian_filter(rng.standard_normal(shape), sigma)
    return (field - field.mean()) / max(field.std(), 1e-12)


def _fields(shape: tuple[int, int], n: int, n_frames: int, illumination: float, haze: float, flicker: float,
            rng: np.random.Generator, gradient: float | None = None, palette: np.ndarray | None = None) -> dict:
    """Draw the illumination, haze, flicker and texture fields of the rendering."""
    yy, xx = np.mgrid[: shape[0], : shape[1]] / np.array(shape).reshape(2, 1, 1)
    centre = rng.uniform(0.3, 0.7, 2)
    vignette = 1.0 - illumination * ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / 0.5
    depth = 0.3 * illumination if gradient is None else gradient
    gradient = 1.0 + depth * (xx - 0.5) * rng.choice([-1, 1])
    airlight = np.array([0.55, 0.57, 0.62]) * (1 + 0.15 * _smooth_noise(shape, shape[0] / 4, rng))[..., None]
    return {"illumination": vignette * gradient, "haze": haze, "airlight": airlight,
            "flicker": 1.0 + flicker * rng.standard_normal(n_frames),
            "brightness": np.concatenate([[1.0], rng.normal(1.0, 0.07, n)])[:, None],
            "texture": 1.0 + 0.05 * _smooth_noise(shape, 1.5, rng),
            "bg_texture": 1.0 + 0.1 * _smooth_noise(shape, 3, rng),
            "psf_px": 0.8, "palette": _palette(None) if palette is None else palette}


def _palette(colours: dict | None) -> np.ndarray:
    """Return the (4, 3) render palette (background, III, II, I) from :data:`PHANTOM_COLOURS` updated by ``colours``."""
    merged = {**PHANTOM_COLOURS, **(colours or {})}
    bad = sorted(set(merged) - set(PHANTOM_COLOURS))
    if bad:
        raise InputError(f"phantom colours name {bad}; use background, III, II and I")
    out = np.array([merged[k] for k in ("background", "III", "II", "I")], np.float64)
    if out.shape != (4, 3) or not np.all(np.isfinite(out)) or out.min() < 0 or out.max() > 1:
        raise InputError(f"phantom colours must be RGB triples in [0, 1], got {merged}; give values in that range")
    return out


#: The smallest phantom frame (pixels per side): a particle of the default radius (9 px) must fit inside.
MIN_PHANTOM_SIZE = 32

#: Ranges of the phantom's settings: name -> (lowest, highest, whether the lowest is allowed).
_PHANTOM_RANGES: dict[str, tuple[float, float, bool]] = {
    "radius_px": (0.0, np.inf, False), "polydispersity": (0.0, 2.0, True), "touching": (0.0, 1.0, True),
    "size_exponent": (0.0, 10.0, True), "drift_px": (0.0, np.inf, True), "swelling": (0.0, 1.0, True),
    "illumination": (0.0, 1.0, True), "haze": (0.0, 1.0, True), "flicker": (0.0, 1.0, True),
    "photons": (0.0, np.inf, False), "read_noise": (0.0, np.inf, True), "gradient": (0.0, 1.0, True),
}


def _check_phantom_settings(*, shape: tuple[int, int], n_particles: int, n_frames: int, **values: float) -> None:
    """Refuse phantom settings outside their ranges, in one line naming the setting."""
    if len(shape) != 2 or min(shape) < MIN_PHANTOM_SIZE:
        raise InputError(f"phantom frames must be at least {MIN_PHANTOM_SIZE} x {MIN_PHANTOM_SIZE} pixels, got "
                         f"{tuple(shape)}; give a larger size")
    if n_frames < 2:
        raise InputError(f"phantom needs at least 2 frames, got {n_frames}; give more frames")
    if n_particles < 1:
        raise InputError(f"phantom needs at least 1 particle, got {n_particles}; give more particles")
    for name, value in values.items():
        low, high, closed = _PHANTOM_RANGES[name]
        ok = np.isfinite(value) and (value >= low if closed else value > low) and value <= high
        if not ok:
            where = f"{'[' if closed else '('}{low:g}, {high:g}]"
            raise InputError(f"phantom {name} = {value!r} is outside {where}; give a value in that range")


def simulate_graphite_phantom(
    *,
    shape: tuple[int, int] = (384, 384),
    n_particles: int = 200,
    n_frames: int = 40,
    radius_px: float = 9.0,
    polydispersity: float = 0.3,
    touching: float = 0.15,
    size_exponent: float = 1.0,
    drift_px: float = 2.0,
    swelling: float = 0.03,
    illumination: float = 0.3,
    haze: float = 0.25,
    flicker: float = 0.03,
    photons: float = 40.0,
    read_noise: float = 0.02,
    gradient: float | None = None,
    colours: dict[str, tuple[float, float, float]] | None = None,
    rng: int | np.random.Generator | None = None,
    progress: Progress | None = None,
) -> GraphitePhantom:
    """Simulate an operando optical video of graphite particles lithiating III -> II -> I, with ground truth.

    Parameters
    ----------
    shape : (int, int)
        Frame size in pixels.
    n_particles : int
        Particles asked for (fewer are placed if the frame is too full).
    n_frames : int
        Frames.
    radius_px : float
        Median particle radius in pixels; radii are lognormal with sigma ``polydispersity``.
    polydispersity : float
        Log-normal sigma of the radii.
    touching : float
        Share of the particles placed touching a neighbour.
    size_exponent : float
        A particle's time to lithiate grows as ``(radius / radius_px) ** size_exponent``.
    drift_px : float
        Total stage drift over the video, in pixels (a smooth random path).
    swelling : float
        Linear growth of a fully lithiated particle (0.03 = 3 %).
    illumination : float
        Depth of the vignette (0: flat).
    haze : float
        Share of the light that is veil (0: none).
    flicker : float
        Standard deviation of the per-frame lamp gain.
    photons : float
        Photons per pixel at intensity 1 (Poisson); lower is noisier.
    read_noise : float
        Gaussian camera noise (intensity units, 1 = white).
    gradient : float, optional
        Depth of the linear illumination gradient across the frame (default ``0.3 * illumination``).
    colours : dict, optional
        RGB colours (0-1) replacing those of :data:`PHANTOM_COLOURS` (keys ``background``, ``III``, ``II``,
        ``I``): e.g. a background as light as stage III, or brighter than the particles.
    rng : int or Generator, optional
        Seed.
    progress : callable, optional
        Called with a :class:`operando.ProgressEvent` before each frame is painted; raise
        :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    GraphitePhantom
        The noisy uint8 video, the noise-free render, labels and stages per frame, and per-particle truth.
    """
    _check_phantom_settings(shape=shape, n_particles=n_particles, n_frames=n_frames, radius_px=radius_px,
                            polydispersity=polydispersity, touching=touching, size_exponent=size_exponent,
                            drift_px=drift_px, swelling=swelling, illumination=illumination, haze=haze,
                            flicker=flicker, photons=photons, read_noise=read_noise,
                            **({} if gradient is None else {"gradient": gradient}))
    palette = _palette(colours)
    seed = concrete_seed(rng)
    place_rng, rate_rng, field_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    flakes = _place(n_particles, shape, radius_px, polydispersity, touching, place_rng)
    n = len(flakes)
    if n == 0:
        raise InputError(f"no particle of radius ~{radius_px:g} px fits in frames of {shape[0]} x {shape[1]} "
                         "pixels; give larger frames or a smaller radius")
    radii = np.array([f["radius"] for f in flakes])
    t_full = 0.7 * (n_frames - 1) * (radii / radius_px) ** size_exponent * rate_rng.lognormal(0, 0.15, n)
    onset = rate_rng.uniform(0, 0.1 * n_frames, n)
    rate = 2.0 / t_full
    path = np.cumsum(rate_rng.standard_normal((n_frames, 2)), axis=0)
    path = ndi.gaussian_filter1d(path - path[0], 3, axis=0)
    path = path * drift_px / max(np.abs(path).max(), 1e-9) if drift_px > 0 else np.zeros_like(path)
    fields = _fields(shape, n, n_frames, illumination, haze, flicker, field_rng, gradient, palette)
    labels = np.zeros((n_frames, *shape), np.uint16)
    stages = np.zeros((n_frames, *shape), np.uint8)
    clean = np.zeros((n_frames, *shape, 3), np.float32)
    for t in range(n_frames):
        emit(progress, 0.9 * t / n_frames, f"painting frame {t + 1}/{n_frames}")
        advance = np.clip(rate * (t - onset), 0.0, 2.0)
        labels[t], stages[t] = _paint_frame(flakes, shape, advance, path[t], swelling)
        clean[t] = _render(stages[t], labels[t], flakes, fields, t)
    emit(progress, 0.9, "camera noise")
    clean = np.clip(clean, 0.0, 1.0)  # the camera saturates at white
    counts = noise_rng.poisson(clean.astype(np.float64) * photons) / photons
    noisy = counts + read_noise * noise_rng.standard_normal(clean.shape)
    video = np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)
    config = {"shape": list(shape), "n_particles": n_particles, "placed": n, "n_frames": n_frames,
              "radius_px": radius_px, "polydispersity": polydispersity, "touching": touching,
              "size_exponent": size_exponent, "drift_px": drift_px, "swelling": swelling,
              "illumination": illumination, "haze": haze, "flicker": flicker, "photons": photons,
              "read_noise": read_noise, "gradient": 0.3 * illumination if gradient is None else gradient,
              "seed": seed, "colours": dict(zip(("background", "III", "II", "I"), map(tuple, palette.tolist()),
                                                strict=True))}
    meta = Metadata(frame_times=tuple(float(t) for t in range(n_frames)), extra={"phantom": config})
    particles = [{"id": i + 1, "radius_px": float(radii[i]), "rate_per_frame": float(rate[i]),
                  "onset_frame": float(onset[i])} for i in range(n)]
    return GraphitePhantom(video=Stack(video, axes="TYXC", metadata=meta),
                           clean=Stack(clean, axes="TYXC", metadata=meta),
                           labels=labels, stages=stages, particles=particles, config=config)


#: The phantom family: what :func:`draw_variant` varies, and over which range (uniform unless noted).
#: ``background``: the background's lightness against the particles, chosen by ``seed % 3``: 0 dark (grey
#: 0.05-0.15, particles brighter; seed 0 is the default phantom), 1 equal (a grey as light as stage III, the
#: blue), 2 bright (grey 0.55-0.8: stages III and II darker than the background, stage I about as light);
#: ``tint``: each background channel times 1 +- this; ``stage_jitter``: each stage colour channel times
#: 1 +- this; ``photons`` log-uniform.
VARIANT_RANGES: dict[str, tuple[float, float]] = {
    "illumination": (0.0, 0.6), "gradient": (0.0, 0.4), "haze": (0.0, 0.4), "flicker": (0.0, 0.06),
    "touching": (0.0, 0.4), "radius_px": (6.0, 12.0), "polydispersity": (0.15, 0.45),
    "photons": (15.0, 100.0), "read_noise": (0.01, 0.03), "tint": (0.0, 0.1), "stage_jitter": (0.0, 0.15),
    "dark_grey": (0.05, 0.15), "bright_grey": (0.55, 0.8),
}

#: Background lightness classes of the family, by ``seed % 3``.
BACKGROUND_CLASSES = ("dark", "equal", "bright")


def _lum(rgb) -> float:
    return float(np.dot(rgb, [0.2126, 0.7152, 0.0722]))


def draw_variant(seed: int) -> dict:
    """Draw one member of the phantom family: settings for :func:`simulate_graphite_phantom`.

    Seed 0 gives the default phantom (an empty dict: every setting at its default), so figures made with it
    reproduce. Any other seed draws every setting of :data:`VARIANT_RANGES` from its range, the background's
    lightness class from ``seed % 3`` (:data:`BACKGROUND_CLASSES`). The frame size, particle count and frame
    count are the caller's; pass the same seed as ``rng`` to draw the particles too.

    Parameters
    ----------
    seed : int
        Variant seed (>= 0).

    Returns
    -------
    dict
        Keyword arguments of :func:`simulate_graphite_phantom` (``illumination``, ``gradient``, ``haze``,
        ``flicker``, ``touching``, ``radius_px``, ``polydispersity``, ``photons``, ``read_noise``,
        ``colours``).

    Raises
    ------
    InputError
        For a negative seed.
    """
    seed = concrete_seed(int(seed))
    if seed == 0:
        return {}
    rng = np.random.default_rng(np.random.SeedSequence([29, seed]))
    r = VARIANT_RANGES

    def uniform(name: str) -> float:
        return float(rng.uniform(*r[name]))

    out = {name: uniform(name) for name in ("illumination", "gradient", "haze", "flicker", "touching",
                                            "radius_px", "polydispersity", "read_noise")}
    out["photons"] = float(np.exp(rng.uniform(*np.log(r["photons"]))))
    jitter = r["stage_jitter"][1]
    colours = {k: tuple(float(v) for v in np.clip(np.asarray(PHANTOM_COLOURS[k]) * rng.uniform(1 - jitter, 1 + jitter,
                                                                                             3), 0.02, 0.98))
               for k in ("III", "II", "I")}
    kind = BACKGROUND_CLASSES[seed % 3]
    grey = {"dark": lambda: uniform("dark_grey"), "equal": lambda: _lum(colours["III"]),
            "bright": lambda: uniform("bright_grey")}[kind]()
    tint = rng.uniform(-r["tint"][1], r["tint"][1], 3)
    background = np.clip(grey * (1 + tint), 0.0, 1.0)
    if kind == "equal":  # keep its luminance that of stage III after the tint
        background = np.clip(background * _lum(colours["III"]) / max(_lum(background), 1e-6), 0.0, 1.0)
    colours["background"] = tuple(float(v) for v in background)
    out["colours"] = colours
    return out


def background_class(settings: dict) -> str:
    """Return the background lightness class (dark, equal, bright) of phantom settings (:func:`draw_variant`).

    Parameters
    ----------
    settings : dict
        Keyword arguments of :func:`simulate_graphite_phantom` (``colours`` optional).

    Returns
    -------
    str
        ``dark`` when the background's luminance is below 0.6 x that of stage III, ``bright`` above 1.5 x, else
        ``equal``.
    """
    colours = {**PHANTOM_COLOURS, **settings.get("colours", {})}
    ratio = _lum(colours["background"]) / max(_lum(colours["III"]), 1e-6)
    return "dark" if ratio < 0.6 else ("bright" if ratio > 1.5 else "equal")
