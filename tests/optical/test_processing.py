import numpy as np
import pytest

from operando import InputError, Stack
from operando.optical import (
    STAGE_CODES,
    apply_hysteresis,
    classify_pixels,
    correct_colour,
    fit_stage_model,
    measure_particles,
    propagate_labels,
    rgb_to_lab,
    segment_particles,
    video_rgb,
)


def _disc(shape, centre, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= r**2


def test_touching_discs_are_split_and_keep_ids_when_shifted_and_swollen():
    shape = (64, 64)
    a, b = _disc(shape, (32, 22), 9), _disc(shape, (32, 39), 8)
    image = (a | b).astype(np.float32)
    seg = segment_particles(image, threshold=0.5, smooth_px=0)
    assert seg.labels.max() == 2
    id_a = np.bincount(seg.labels[a]).argmax()
    moved = np.stack([image, (_disc(shape, (34, 24), 10) | _disc(shape, (34, 41), 9)).astype(np.float32)])
    labels = propagate_labels(seg.labels, moved, threshold=0.5, shifts=np.array([[0, 0], [2, 2]]), smooth_px=0)
    assert set(np.unique(labels[1])) == {0, 1, 2}
    assert np.bincount(labels[1][_disc(shape, (34, 24), 10)]).argmax() == id_a
    grown = (labels[1] > 0).sum() / (labels[0] > 0).sum()
    assert grown > 1.15  # the swollen particles are followed, not clipped to their old outline


def test_correct_colour_removes_flicker_vignette_and_veil():
    rng = np.random.default_rng(0)
    shape = (64, 64)
    particles = np.zeros(shape, bool)
    for _ in range(12):
        particles |= _disc(shape, rng.integers(8, 56, 2), 4)
    yy, xx = np.mgrid[:64, :64] / 63.0
    vignette = 1 - 0.4 * ((yy - 0.5) ** 2 + (xx - 0.5) ** 2)
    scene = np.where(particles[..., None], [0.2, 0.3, 0.6], [0.05, 0.05, 0.05])
    gains = np.array([1.0, 1.1, 0.9])
    veil = 0.15 * np.array([1.0, 1.0, 1.05])
    rgb = gains[:, None, None, None] * vignette[None, ..., None] * (0.8 * scene + veil)[None]
    background = ~np.pad(particles, 0) & ~_grow(particles)
    out = correct_colour(rgb.astype(np.float32), background=background, particles=particles & ~_edge(particles))
    np.testing.assert_allclose(out.flicker / out.flicker[0], gains, rtol=0.02)
    inner = particles & ~_edge(particles)
    values = out.rgb[:, inner]
    assert values.std(axis=(0, 1)).max() < 0.02  # one colour everywhere, every frame
    ratio = values.mean((0, 1)) / values.mean((0, 1)).max()
    np.testing.assert_allclose(ratio, np.array([0.15, 0.25, 0.55]) / 0.55, atol=0.05)  # hue kept after the veil


def _grow(mask):
    from scipy import ndimage as ndi

    return ndi.binary_dilation(mask, iterations=2)


def _edge(mask):
    from scipy import ndimage as ndi

    return mask & ~ndi.binary_erosion(mask)


def test_learned_stages_are_ordered_by_time_and_far_colours_are_unknown():
    rng = np.random.default_rng(1)
    colours = {"III": (0.2, 0.3, 0.7), "II": (0.7, 0.15, 0.15), "I": (0.9, 0.7, 0.2)}
    labs, times = [], []
    for i, name in enumerate(("III", "II", "I")):  # II shown in the middle, I at the end
        lab = rgb_to_lab(np.clip(np.array(colours[name]) + 0.02 * rng.standard_normal((300, 3)), 0, 1))
        labs.append(lab)
        times.append(rng.normal(5 + 10 * i, 2, 300))
    model = fit_stage_model(np.concatenate(labs[::-1]), np.concatenate(times[::-1]), rng=0)
    assert model.names == ("III", "II", "I")
    codes, conf = classify_pixels(np.concatenate([labs[1][:5], rgb_to_lab(np.array([[0.5, 0.5, 0.5]]))]), model)
    assert list(codes[:5]) == [STAGE_CODES["II"]] * 5 and conf[:5].min() > 0.9
    assert codes[5] == STAGE_CODES["unknown"] and conf[5] == 0


def test_given_stage_colours_and_plating_class():
    lab = rgb_to_lab(np.array([[0.2, 0.3, 0.7]] * 20 + [[0.7, 0.15, 0.15]] * 20 + [[0.9, 0.7, 0.2]] * 20))
    lab = lab + np.random.default_rng(0).normal(0, 1.0, lab.shape)
    rgb = {"III": (0.2, 0.3, 0.7), "II": (0.7, 0.15, 0.15), "I": (0.9, 0.7, 0.2), "plating": (0.8, 0.8, 0.8)}
    given = {n: rgb_to_lab(np.array(c)) for n, c in rgb.items()}
    model = fit_stage_model(lab, np.zeros(60), given=given)
    codes, _ = classify_pixels(rgb_to_lab(np.array([[0.8, 0.8, 0.8], [0.7, 0.15, 0.15]])), model, max_distance=50)
    assert list(codes) == [STAGE_CODES["plating"], STAGE_CODES["II"]]
    with pytest.raises(InputError, match="stage name"):
        fit_stage_model(lab, np.zeros(60), given={"IV": given["I"]})


def test_hysteresis_ignores_one_unconfident_frame():
    codes = np.array([1, 1, 2, 1, 2, 2], np.uint8)[:, None]
    conf = np.array([1, 1, 0.6, 1, 0.95, 0.95])[:, None]
    out = apply_hysteresis(codes, conf, switch_confidence=0.9)
    assert out[:, 0].tolist() == [1, 1, 1, 1, 2, 2]


def test_particle_table_cbar_transitions_and_v_over_a():
    labels = np.zeros((3, 40, 40), np.int32)
    disc = _disc((40, 40), (20, 20), 10)
    labels[:, disc] = 5
    stages = np.zeros((3, 40, 40), np.uint8)
    ys = np.nonzero(disc)[0]
    top = disc.copy()
    top[disc] = ys < 20
    stages[0][disc] = 1
    stages[1][disc] = 1
    stages[1][disc & ~top] = 2  # bottom half II (just over 50 % with the middle row)
    stages[2][disc] = 3
    table = measure_particles(labels, stages)
    assert table.ids.tolist() == [5]
    assert table.cbar[0, 0] == pytest.approx(1 / 3) and table.cbar[2, 0] == pytest.approx(1.0)
    assert 1 / 3 < table.cbar[1, 0] < 1 / 2
    assert table.transition_frames["II"][0] == 1 and table.transition_frames["I"][0] == 2
    assert table.v_over_a[0] == pytest.approx(10 / 2, rel=0.1)  # disc: area / perimeter = r / 2
    rows = table.rows()
    assert len(rows) == 3 and rows[0]["id"] == 5 and "v_over_a_px" in rows[0]


def test_grayscale_single_frame_and_colourless_videos_are_refused():
    with pytest.raises(InputError, match="colour video"):
        video_rgb(Stack(np.zeros((4, 16, 16), np.uint8), axes="TYX"))
    with pytest.raises(InputError, match="2 frames"):
        video_rgb(Stack(np.zeros((1, 16, 16, 3), np.uint8), axes="TYXC"))
    gray = np.repeat(np.random.default_rng(0).integers(0, 255, (3, 16, 16, 1), dtype=np.uint8), 3, axis=-1)
    with pytest.raises(InputError, match="no colour"):
        video_rgb(Stack(gray, axes="TYXC"))


def test_deep_learning_adapters_are_optional_extras_and_download_nothing(tmp_path):
    from operando._errors import InputError
    from operando.optical import segment_cellpose, segment_stardist

    frame = np.zeros((16, 16, 3), np.float32)
    weights = tmp_path / "weights"
    weights.mkdir()
    for fn, key, extra, hint in ((segment_cellpose, "model_path", "cellpose", r"operando\[cellpose\]"),
                                 (segment_stardist, "model_dir", "stardist", "pip install stardist tensorflow")):
        with pytest.raises(InputError, match="never downloads weights"):  # no local weights: refused first
            fn(frame, **{key: tmp_path / "missing"})
        try:
            __import__(extra)
        except ImportError:
            with pytest.raises(ImportError, match=hint):
                fn(frame, **{key: weights})


def test_outlines_stay_at_half_maximum_when_a_particle_brightens_and_follow_it_when_it_swells():
    """A blurred disk turning brighter keeps its outline; one that swells is followed (no fixed-threshold halo)."""
    from scipy import ndimage

    yy, xx = np.mgrid[:64, :64]

    def disk(radius: float, brightness: float) -> np.ndarray:
        return ndimage.gaussian_filter(brightness * ((yy - 32) ** 2 + (xx - 32) ** 2 <= radius**2), 2.0)

    reference = ((yy - 32) ** 2 + (xx - 32) ** 2 <= 10**2).astype(np.int32)
    brighter = np.stack([disk(10, 1.0), disk(10, 3.0)])
    swelling = np.stack([disk(10, 1.0), disk(12, 1.0)])
    fixed = propagate_labels(reference, brighter, threshold=0.5, smooth_px=0, edge_level=None)
    half = propagate_labels(reference, brighter, threshold=0.5, smooth_px=0)
    grown = propagate_labels(reference, swelling, threshold=0.5, smooth_px=0)
    true_area = np.pi * 10**2
    assert (fixed[1] > 0).sum() > 1.2 * true_area  # a fixed threshold spreads into the brighter halo
    assert abs((half[1] > 0).sum() / true_area - 1) < 0.05 and abs((half[0] > 0).sum() / true_area - 1) < 0.05
    assert abs((grown[1] > 0).sum() / (np.pi * 12**2) - 1) < 0.05  # swelling followed
