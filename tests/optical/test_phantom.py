import numpy as np

from operando.optical import STAGE_CODES, simulate_graphite_phantom, transition_frames


def test_phantom_shapes_and_truth(tiny_phantom):
    p = tiny_phantom
    assert p.video.shape == (8, 96, 96, 3) and p.video.dtype == np.uint8 and p.video.axes == "TYXC"
    assert p.labels.shape == p.stages.shape == (8, 96, 96)
    assert 10 <= p.config["placed"] <= 15 and isinstance(p.config["seed"], int)
    # stages exactly where particles are, and only graphite stages
    assert np.array_equal(p.stages > 0, p.labels > 0)
    assert set(np.unique(p.stages)) <= {0, 1, 2, 3}
    # every particle keeps its id in every frame
    ids0 = set(np.unique(p.labels[0])) - {0}
    assert all(set(np.unique(p.labels[t])) - {0} == ids0 for t in range(8))


def test_phantom_lithiates_in_order_and_is_seeded(tiny_phantom):
    p = tiny_phantom
    inside = p.labels > 0
    share = {k: [(p.stages[t][inside[t]] == STAGE_CODES[k]).mean() for t in range(8)] for k in ("III", "I")}
    assert share["III"][0] > 0.95 and share["III"][-1] < share["III"][0]
    assert share["I"][-1] > share["I"][0]
    again = simulate_graphite_phantom(shape=(96, 96), n_particles=15, n_frames=8, radius_px=7.0, rng=3)
    np.testing.assert_array_equal(again.video.to_numpy(), p.video.to_numpy())


def test_larger_particles_lithiate_later():
    p = simulate_graphite_phantom(shape=(160, 160), n_particles=40, n_frames=20, radius_px=7.0, rng=1)
    ids = np.array([q["id"] for q in p.particles])
    radii = np.array([q["radius_px"] for q in p.particles])
    t2 = transition_frames(p.stages, p.labels.astype(np.int64), ids, "II")
    ok = np.isfinite(t2)
    assert ok.sum() > 10
    assert np.corrcoef(radii[ok], t2[ok])[0, 1] > 0.3
