import numpy as np
import pytest

from operando import InputError, Stack
from operando.denoise import denoise, load_model, predict, save_model, train_denoiser

from .conftest import gain_db


@pytest.mark.parametrize("method", ["video", "n2v", "n2v2", "structn2v"])
def test_each_network_raises_psnr(clean_video, noisy_video, tiny_config, method):
    model = train_denoiser(noisy_video, config=tiny_config.model_copy(update={"method": method}), rng=0)
    out = predict(model, noisy_video)
    assert out.shape == noisy_video.shape and out.dtype == noisy_video.dtype
    assert gain_db(clean_video, noisy_video, out) > 3.0


def test_video_denoiser_with_blind_spot_keeps_single_frame_events(clean_video, tiny_config):
    video = clean_video.to_numpy().copy()
    video[7, 10:16, 10:16] = 1.5  # a bright event that exists in one frame only
    noisy = Stack(video + np.random.default_rng(0).normal(0, 0.1, video.shape).astype(np.float32), axes="TYX")
    cfg = tiny_config.model_copy(update={"blind_spot": True, "mask_fraction": 0.05, "max_steps": 200})
    with_spot = predict(train_denoiser(noisy, config=cfg, rng=0), noisy).to_numpy()
    no_spot = tiny_config.model_copy(update={"blind_spot": False})
    without = predict(train_denoiser(noisy, config=no_spot, rng=0), noisy).to_numpy()
    event = (slice(11, 15), slice(11, 15))
    assert with_spot[7][event].mean() > without[7][event].mean() + 0.1


def test_same_seed_same_result(noisy_video, tiny_config):
    cfg = tiny_config.model_copy(update={"max_steps": 30})
    a = predict(train_denoiser(noisy_video, config=cfg, rng=5), noisy_video).to_numpy()
    b = predict(train_denoiser(noisy_video, config=cfg, rng=5), noisy_video).to_numpy()
    np.testing.assert_array_equal(a, b)


def test_saved_model_reloads_to_identical_output(tmp_path, noisy_video, tiny_config):
    model = train_denoiser(noisy_video, config=tiny_config.model_copy(update={"max_steps": 20}), rng=0)
    path = save_model(model, tmp_path / "model")
    assert path.suffix == ".safetensors" and (tmp_path / "model.json").exists()
    again = load_model(tmp_path / "model.json")
    np.testing.assert_array_equal(predict(model, noisy_video).to_numpy(), predict(again, noisy_video).to_numpy())
    assert (again.stop_reason, again.best_step) == (model.stop_reason, model.best_step)
    resumed = train_denoiser(noisy_video, resume=tmp_path / "model", max_steps=10, rng=0)
    assert resumed.steps == model.steps + 10


def test_the_best_validation_check_is_returned(noisy_video, tiny_config):
    cfg = tiny_config.model_copy(update={"max_steps": 100, "val_every": 10})
    model = train_denoiser(noisy_video, config=cfg, rng=0)
    losses = {h["step"]: h["val_loss"] for h in model.history}
    assert model.best_step == min(losses, key=losses.get)
    assert model.stop_reason == "max_steps"


def test_early_stopping_ends_a_run_that_stops_improving(noisy_video, tiny_config):
    # a vanishing learning rate leaves the validation loss flat: the first check is the best, then 3 more
    cfg = tiny_config.model_copy(update={"max_steps": 500, "val_every": 5, "patience": 3, "lr": 1e-12})
    model = train_denoiser(noisy_video, config=cfg, rng=0)
    assert model.stop_reason == "early_stopping"
    assert (model.best_step, model.steps) == (5, 20)


def test_integer_input_gives_integer_output(noisy_video, tiny_config):
    counts = np.clip(noisy_video.to_numpy() * 1000 + 200, 0, 65535).astype(np.uint16)
    model = train_denoiser(counts, axes="TYX", config=tiny_config.model_copy(update={"max_steps": 10}), rng=0)
    out = predict(model, counts, axes="TYX")
    assert isinstance(out, np.ndarray) and out.dtype == np.uint16 and out.shape == counts.shape


def test_rgb_video_and_single_images(tiny_config, rng):
    rgb = rng.random((6, 16, 16, 3)).astype(np.float32)
    cfg = tiny_config.model_copy(update={"max_steps": 5, "patch": 16})
    out = predict(train_denoiser(rgb, axes="TYXC", config=cfg, rng=0), rgb, axes="TYXC")
    assert out.shape == rgb.shape
    image = rng.random((24, 24)).astype(np.float32)
    out2 = predict(train_denoiser(image, config=cfg.model_copy(update={"method": "n2v2"}), rng=0), image)
    assert out2.shape == image.shape and out2.dtype == image.dtype
    spectral = Stack(rng.random((3, 16, 16)).astype(np.float32), axes="EYX")
    model = train_denoiser(spectral, config=cfg.model_copy(update={"method": "n2v"}), rng=0)
    assert predict(model, spectral).axes == "EYX"


def test_pure_noise_gives_no_structure(tiny_config):
    noise = np.random.default_rng(3).normal(0.5, 0.1, (12, 32, 32)).astype(np.float32)
    out = predict(train_denoiser(noise, axes="TYX", config=tiny_config, rng=0), noise, axes="TYX")
    assert out.std() < 0.35 * noise.std()  # nothing to find: the output stays close to flat
    assert abs(out.mean() - 0.5) < 0.02


@pytest.mark.parametrize(("data", "axes", "kwargs", "match"), [
    (np.zeros((3, 16, 16), np.float32), "TYX", {"method": "video"}, "need >= 5 frames along T"),
    (np.zeros((8, 1, 16), np.float32), "TYX", {"method": "n2v"}, "too small to denoise"),
    (np.zeros((8, 16, 16), np.float32), "YX", {"method": "n2v"}, "names 2 axes but the data has 3"),
])
def test_bad_inputs(data, axes, kwargs, match, tiny_config):
    with pytest.raises(InputError, match=match):
        train_denoiser(data, axes=axes, config=tiny_config.model_copy(update=kwargs))


def test_nan_input_is_refused(tiny_config):
    data = np.zeros((8, 16, 16), np.float32)
    data[2, 3, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        denoise(data, axes="TYX", method="gaussian")
    with pytest.raises(InputError, match="NaN"):
        train_denoiser(data, axes="TYX", config=tiny_config)


def test_supervised_oracle_trains_against_clean(clean_video, noisy_video, tiny_config):
    oracle = train_denoiser(noisy_video, config=tiny_config, clean=clean_video, rng=0)
    assert gain_db(clean_video, noisy_video, predict(oracle, noisy_video)) > 3.0


def test_impulses_at_fixed_values_are_left_out_of_the_loss(clean_video, tiny_config):
    from operando.noise import corrupt

    noisy = corrupt(clean_video, "impulse:0.2", rng=0)
    model = train_denoiser(noisy, config=tiny_config, rng=0)
    assert model.loss == "mse" and model.config.skip_impulses and model.config.impulse_filter
    assert gain_db(clean_video, noisy, predict(model, noisy)) > 8.0


def test_impulses_at_random_values_get_l1(clean_video, tiny_config):
    clean = clean_video.to_numpy()
    gen = np.random.default_rng(0)
    noisy = clean + gen.normal(0, 0.02, clean.shape).astype(np.float32)
    hit = gen.random(clean.shape) < 0.15
    noisy[hit] = gen.random(int(hit.sum())).astype(np.float32)  # impulses at values that never repeat
    model = train_denoiser(noisy, axes="TYX", config=tiny_config, rng=0)
    assert model.loss == "l1" and not model.config.skip_impulses and model.config.impulse_filter
    assert gain_db(clean, noisy, predict(model, noisy, axes="TYX")) > 5.0


def test_skipping_impulses_removes_the_median_bias_of_counts(clean_video, tiny_config):
    """Impulses on Poisson counts: L1 fits the median, about 1/6 count below the mean; skipping them does not."""
    from operando.noise import corrupt

    noisy = corrupt(clean_video, "mixed:10,0.02,0.1", rng=0)
    clean = clean_video.to_numpy()
    default = train_denoiser(noisy, config=tiny_config, rng=0)
    median = train_denoiser(noisy, config=tiny_config.model_copy(update={"skip_impulses": False, "loss": "l1"}), rng=0)
    assert default.loss == "mse" and default.config.skip_impulses
    bias_default = float(np.mean(predict(default, noisy).to_numpy() - clean))
    bias_median = float(np.mean(predict(median, noisy).to_numpy() - clean))
    assert bias_median < -0.008  # ~ -1/(6 x 10 counts)
    assert abs(bias_default) < 0.5 * abs(bias_median)


@pytest.mark.parametrize("kind", ["donut", "checkerboard"])
def test_blind_spot_output_never_sees_its_own_pixel(kind):
    import torch

    from operando.denoise import TrainConfig
    from operando.denoise._unet import build_model

    net = build_model(TrainConfig(base=8, blind_spot=True, blind_spot_kind=kind, seed=0), 1).eval()
    x = torch.randn(1, 4 + (1 if kind == "donut" else 2), 32, 32)
    if kind == "checkerboard":  # the hidden parity is zeroed and flagged in the mask channel
        board = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 == 0
        x[0, 4][board], x[0, 5] = 0.0, board.float()
    changed = x.clone()
    changed[0, 4, 16, 16] += 10.0  # the target frame's own pixel (hidden by the checkerboard as well)
    if kind == "checkerboard":
        changed[0, 4, 16, 16] = 0.0
    with torch.no_grad():
        a, b = net(x), net(changed)
    assert torch.equal(a[0, 0, 16, 16], b[0, 0, 16, 16])
    if kind == "donut":  # but it does see the pixels around it
        assert not torch.equal(a[0, 0, 16, 17], b[0, 0, 16, 17])


def test_models_saved_before_the_donut_load_as_checkerboard(tmp_path, noisy_video, tiny_config):
    import json

    cfg = tiny_config.model_copy(update={"max_steps": 5, "blind_spot": True, "blind_spot_kind": "checkerboard"})
    model = train_denoiser(noisy_video, config=cfg, rng=0)
    save_model(model, tmp_path / "old")
    record = json.loads((tmp_path / "old.json").read_text())
    record["config"].pop("blind_spot_kind")
    record["config"].pop("donut_size")
    record["config"]["version"] = 1
    (tmp_path / "old.json").write_text(json.dumps(record))
    again = load_model(tmp_path / "old")
    assert again.config.blind_spot_kind == "checkerboard"
    np.testing.assert_array_equal(predict(model, noisy_video).to_numpy(), predict(again, noisy_video).to_numpy())


def test_keep_measured_restores_pixels_that_are_not_impulses(clean_video):
    from operando.denoise import keep_measured_pixels
    from operando.metrics import psnr
    from operando.noise import corrupt

    clean = clean_video.to_numpy()[:, None]
    rough = clean + np.random.default_rng(0).normal(0, 0.03, clean.shape).astype(np.float32)  # a 30 dB guess
    salt = corrupt(clean_video, "impulse:0.2", rng=2).to_numpy()[:, None]
    kept, weight = keep_measured_pixels(salt, rough)
    assert weight > 0.95  # impulse-free pixels are exact measurements
    assert psnr(clean, kept, data_range=1) > psnr(clean, rough, data_range=1) + 6
    gauss = corrupt(clean_video, "gaussian:0.1", rng=2).to_numpy()[:, None]
    kept, weight = keep_measured_pixels(gauss, rough)
    assert weight < 0.3  # the measurement is noisier than the guess: mostly keep the guess
    assert psnr(clean, kept, data_range=1) >= psnr(clean, rough, data_range=1) - 0.1
    mixed = corrupt(clean_video, "mixed:30,0.05,0.1", rng=2).to_numpy()[:, None]
    kept, _ = keep_measured_pixels(mixed, rough)
    assert psnr(clean, kept, data_range=1) >= psnr(clean, rough, data_range=1) - 0.1


def test_denoising_never_changes_the_input(noisy_video, tiny_config):
    data = noisy_video.to_numpy()
    before = data.copy()
    model = train_denoiser(data, axes="TYX", config=tiny_config.model_copy(update={"max_steps": 5}), rng=0)
    predict(model, data, axes="TYX", keep_measured=True)
    denoise(data, axes="TYX", method="gaussian")
    np.testing.assert_array_equal(data, before)


@pytest.mark.parametrize("method", ["video", "structn2v"])
def test_test_time_augmentation_keeps_quality_and_the_blind_spot(clean_video, noisy_video, tiny_config, method):
    model = train_denoiser(noisy_video, config=tiny_config.model_copy(update={"method": method}), rng=0)
    plain = predict(model, noisy_video)
    tta = predict(model, noisy_video, tta=True)
    assert tta.shape == noisy_video.shape and tta.dtype == noisy_video.dtype
    # a transform undone wrongly would scramble the frames; averaging over symmetries should not cost quality
    assert gain_db(clean_video, noisy_video, tta) > gain_db(clean_video, noisy_video, plain) - 0.2
    if method == "video":  # every transform still hides the target pixel: perturbing it changes nothing there
        changed = noisy_video.to_numpy().copy()
        changed[6, 9, 20] += 10.0
        out = predict(model, Stack(changed, axes="TYX"), tta=True).to_numpy()
        assert out[6, 9, 20] == tta.to_numpy()[6, 9, 20]


def test_config_and_keywords_never_contradict(noisy_video, tiny_config):
    """Keywords build a config, fill what it left at defaults, or repeat its values; a contradiction of a value it
    sets is one InputError line."""
    from operando.denoise import TrainConfig

    with pytest.raises(InputError, match=r"max_steps=7 conflicts with config.max_steps=120"):
        train_denoiser(noisy_video, config=tiny_config, max_steps=7)
    with pytest.raises(InputError, match="rng=3 conflicts with config.seed=2"):
        train_denoiser(noisy_video, config=tiny_config.model_copy(update={"seed": 2}), rng=3)
    small = dict(max_steps=6, base=8, patch=32, val_every=3)
    a = train_denoiser(noisy_video, config=TrainConfig(method="n2v", **small), rng=1)
    b = train_denoiser(noisy_video, config=TrainConfig(method="n2v", seed=1, **small), method="n2v")  # repeats
    np.testing.assert_array_equal(predict(a, noisy_video).to_numpy(), predict(b, noisy_video).to_numpy())
    filled = train_denoiser(noisy_video, config=TrainConfig(**small), method="n2v", rng=1)  # fills a default
    assert filled.config.method == "n2v"
    np.testing.assert_array_equal(predict(a, noisy_video).to_numpy(), predict(filled, noisy_video).to_numpy())
    by_keywords = train_denoiser(noisy_video, method="n2v", max_steps=6, rng=1)  # keywords alone build a config
    assert by_keywords.config == TrainConfig(method="n2v", max_steps=6, seed=1).model_copy(
        update={k: getattr(by_keywords.config, k) for k in ("blind_spot", "impulse_filter", "skip_impulses")})


def test_every_model_and_output_records_its_config_and_concrete_seed(tmp_path, noisy_video, tiny_config):
    """A run can be repeated from its output: the saved JSON and the Stack metadata hold config and seed."""
    import json

    from operando.denoise import TrainConfig

    cfg = tiny_config.model_copy(update={"max_steps": 6, "val_every": 3})
    model = train_denoiser(noisy_video, config=cfg)  # no seed given: one is drawn and recorded
    assert isinstance(model.config.seed, int)
    save_model(model, tmp_path / "m")
    record = json.loads((tmp_path / "m.json").read_text())
    assert record["config"] == model.config.model_dump() and record["seed"] == model.config.seed
    out = predict(model, noisy_video)
    assert out.metadata.extra["denoise"]["config"] == model.config.model_dump()
    again = train_denoiser(noisy_video, config=TrainConfig(**record["config"]))
    np.testing.assert_array_equal(out.to_numpy(), predict(again, noisy_video).to_numpy())
