import numpy as np
import pytest

from operando._errors import InputError
from operando._stack import Stack
from operando.denoise import TrainConfig, denoise

# denoise() takes the whole training configuration: short, repeatable runs without touching its internals
SHORT = TrainConfig(method="n2v", max_steps=8, time_budget_s=120.0)


def test_ensemble_averages_runs_with_spawned_child_seeds(noisy_video):
    video = Stack(noisy_video.to_numpy().astype(np.float32), axes="TYX")
    both = denoise(video, config=SHORT, rng=3, ensemble=2)
    seeds = both.metadata.extra["denoise"]["member_seeds"]
    expected = [int(c.generate_state(1)[0]) for c in np.random.SeedSequence(3).spawn(2)]
    assert seeds == expected  # SeedSequence(seed).spawn(k), not seed, seed + 1, ...
    singles = [denoise(video, config=SHORT, rng=s).to_numpy() for s in seeds]
    assert not np.allclose(singles[0], singles[1])  # the seeds differ, so the runs do
    np.testing.assert_allclose(both.to_numpy(), (singles[0] + singles[1]) / 2, atol=1e-5)
    assert both.shape == video.shape and both.dtype == video.dtype


def test_ensemble_keeps_an_integer_input_type_and_records_itself(noisy_video):
    counts = Stack(np.clip(noisy_video.to_numpy() * 1000, 0, None).astype(np.uint16), axes=noisy_video.axes,
                   metadata=noisy_video.metadata)
    out = denoise(counts, config=SHORT, rng=0, ensemble=2)
    assert out.dtype == np.uint16 and out.shape == counts.shape and out.axes == counts.axes
    record = out.metadata.extra["denoise"]
    assert (record["method"], record["ensemble"], record["seed"]) == ("n2v", 2, 0)
    assert TrainConfig(**record["config"]).max_steps == 8 and record["config"]["seed"] == 0
    assert [m["seed"] for m in record["members"]] == record["member_seeds"]


def test_denoise_records_the_config_and_a_drawn_seed(noisy_video):
    out = denoise(noisy_video, config=SHORT)  # no seed: one is drawn, used and recorded
    record = out.metadata.extra["denoise"]
    assert isinstance(record["seed"], int) and record["config"]["seed"] == record["seed"]
    again = denoise(noisy_video, config=TrainConfig(**record["config"]))
    np.testing.assert_array_equal(out.to_numpy(), again.to_numpy())


@pytest.mark.parametrize("method, ensemble", [("median", 2), ("video", 0)])
def test_ensemble_refuses_filters_and_empty_ensembles(noisy_video, method, ensemble):
    with pytest.raises(InputError, match="ensemble"):
        denoise(noisy_video, method=method, ensemble=ensemble)


def test_config_and_method_must_agree(noisy_video):
    with pytest.raises(InputError, match="method='video' conflicts with config.method='n2v'"):
        denoise(noisy_video, method="video", config=SHORT)
    with pytest.raises(InputError, match="deterministic filter, leave config out"):
        denoise(noisy_video, method="gaussian", config=SHORT)
    with pytest.raises(InputError, match="unknown denoising method 'nope'; choose one of video"):
        denoise(noisy_video, method="nope")
