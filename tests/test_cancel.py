"""Cooperative cancel: every kind of long job stops within 5 s of its progress callback raising Cancelled.

Each test stops a job from its callback (after the n-th event, or once a deadline has passed, so that how often
the job calls back is what is tested) and checks that ``operando.Cancelled`` propagates, that it came within
5 s of the request, that no output file is left half written and, for a streamed output, that the finished
chunks stay and a rerun resumes.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from scipy import ndimage

from operando import Cancelled, ProgressEvent, Stack

LATENCY_S = 5.0


class Stopper:
    """A progress callback that records the events and asks the job to stop once ``when(events)`` holds."""

    def __init__(self, when):
        self.when, self.events, self.requested = when, [], None

    def __call__(self, event: ProgressEvent) -> None:
        assert isinstance(event, ProgressEvent)
        self.events.append(event)
        if self.requested is None and self.when(self.events):
            self.requested = time.monotonic()
        if self.requested is not None:
            raise Cancelled("stopped by the test")

    def run(self, job, *args, **kwargs):
        """Run ``job``; check it raised Cancelled within LATENCY_S of the request; return the events."""
        with pytest.raises(Cancelled):
            job(*args, progress=self, **kwargs)
        assert self.requested is not None, "the job finished before the stop was asked for"
        assert time.monotonic() - self.requested < LATENCY_S
        return self.events


def after_events(n: int):
    return lambda events: len(events) >= n


def after_seconds(seconds: float):
    deadline = time.monotonic() + seconds
    return lambda events: time.monotonic() > deadline


def real_events(events):
    """The events that report progress (not the bare cancel checks, whose fraction is NaN)."""
    return [e for e in events if e.fraction == e.fraction]


@pytest.fixture(scope="module")
def video():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48] / 48.0
    clean = np.stack([0.5 + 0.3 * np.sin(6 * xx + 0.2 * t) * np.cos(5 * yy) for t in range(10)])
    return Stack((clean + 0.1 * rng.standard_normal(clean.shape)).astype(np.float32), axes="TYX")


@pytest.fixture(scope="module")
def small_model(video):
    from operando.denoise import TrainConfig, train_denoiser

    config = TrainConfig(method="video", max_steps=2, patch=16, batch=2, base=8, blind_spot=True,
                         impulse_filter=False, skip_impulses=False, loss="mse", blind_spot_radius_px=0)
    return train_denoiser(video, config=config, rng=0, device="cpu")


def test_training_reports_losses_as_fields_and_stops_within_a_step(video):
    from operando.denoise import TrainConfig, train_denoiser

    config = TrainConfig(method="video", max_steps=10**6, time_budget_s=600, val_every=2, patch=16, batch=2, base=8,
                         blind_spot=True, impulse_filter=False, skip_impulses=False, loss="mse",
                         blind_spot_radius_px=0)
    stopper = Stopper(lambda events: sum(e.val_loss is not None for e in events) >= 2)
    events = real_events(stopper.run(train_denoiser, video, config=config, rng=0, device="cpu"))
    checks = [e for e in events if e.val_loss is not None]
    assert [e.step for e in checks] == [2, 4]
    assert all(np.isfinite(e.train_loss) and np.isfinite(e.val_loss) for e in checks)
    assert "val loss" not in checks[0].message  # the loss is a field, not text
    assert all(0 <= e.fraction <= 1 for e in events)


def test_training_stops_within_seconds_of_a_request_between_reports(video):
    from operando.denoise import TrainConfig, train_denoiser

    config = TrainConfig(method="n2v2", max_steps=10**6, time_budget_s=600, val_every=10**6, patch=16, batch=2,
                         base=8)
    Stopper(after_seconds(1.0)).run(train_denoiser, video, config=config, rng=0, device="cpu")


def test_the_noise_measurement_stops_between_its_steps_and_so_does_training_while_it_measures(video):
    from operando.denoise import TrainConfig, diagnose, train_denoiser

    events = Stopper(after_events(1)).run(diagnose, video)
    assert len(events) == 1
    # loss "auto": training measures the noise first; a stop asked before any training step ends it there
    config = TrainConfig(method="n2v2", max_steps=10**6, time_budget_s=600, patch=16, batch=2, base=8, loss="auto")
    events = Stopper(after_events(1)).run(train_denoiser, video, config=config, rng=0, device="cpu")
    assert not any(e.train_loss is not None for e in events)


def test_predict_stops_between_tiles(small_model, video):
    from operando.denoise import predict

    big = Stack(np.tile(video.to_numpy(), (1, 3, 3)), axes="TYX")  # 144 x 144: 25 tiles of 32 per batch
    stopper = Stopper(after_events(3))
    stopper.run(predict, small_model, big, device="cpu", tile=32, overlap=4, frames_per_batch=10)
    assert not real_events(stopper.events)  # stopped between tiles, before the first batch was finished

    done = []
    predict(small_model, video, device="cpu", frames_per_batch=4, progress=done.append)
    fractions = [e.fraction for e in real_events(done)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


WHITE = np.pad([[0.01]], 1)  # white noise of variance 0.01 (autocovariance, lag 0 in the middle): nothing measured


class FakeBM3D:
    """Stands in for the optional ``bm3d`` package (a Gaussian filter, slowed down like a real BM3D call)."""

    @staticmethod
    def bm3d(y, sigma_psd):
        time.sleep(0.05)
        return ndimage.gaussian_filter(np.asarray(y, float), 1.0)


def test_bm3d_refine_stops_in_its_pairs_and_in_training(monkeypatch, video):
    from operando.denoise import TrainConfig, _bm3d
    from operando.denoise._bm3d_refine import denoise_bm3d_refined

    monkeypatch.setattr(_bm3d, "_import_bm3d", lambda: FakeBM3D)
    image = Stack(video.to_numpy()[:2], axes="TYX")
    config = TrainConfig(max_steps=10**6, time_budget_s=600, patch=16, seed=0)
    pairs = Stopper(after_events(2))  # during the pairs of the first image
    pairs.run(denoise_bm3d_refined, image, config=config, autocovariance=WHITE, device="cpu")
    assert "pair" in pairs.events[-1].message and pairs.events[-1].message.startswith("image 1/2")
    training = Stopper(lambda events: len(events) - len(real_events(events)) >= 20)  # 20 training steps in
    training.run(denoise_bm3d_refined, image, config=config, autocovariance=WHITE, pairs=8, device="cpu")
    assert "pair 8" in real_events(training.events)[-1].message  # all pairs made: stopped while training


def test_bm3d_refine_leaves_the_global_torch_generator_alone(monkeypatch, video):
    import torch

    from operando.denoise import TrainConfig, _bm3d
    from operando.denoise._bm3d_refine import denoise_bm3d_refined

    monkeypatch.setattr(_bm3d, "_import_bm3d", lambda: FakeBM3D)
    image = Stack(video.to_numpy()[:1], axes="TYX")
    config = TrainConfig(max_steps=5, time_budget_s=600, patch=16)
    torch.manual_seed(7)
    first = denoise_bm3d_refined(image, config=config, autocovariance=WHITE, pairs=4, rng=3, device="cpu").to_numpy()
    after = torch.rand(4)
    torch.manual_seed(7)
    expected = torch.rand(4)
    assert torch.equal(after, expected)  # nothing drew from (or reseeded) torch's global generator
    torch.manual_seed(99)  # a different global state does not change the result: the weights are seeded locally
    again = denoise_bm3d_refined(image, config=config, autocovariance=WHITE, pairs=4, rng=3, device="cpu").to_numpy()
    np.testing.assert_array_equal(first, again)


@pytest.fixture(scope="module")
def physics_video():
    from operando.simulate import simulate_regular_solution

    return simulate_regular_solution(size=16, n_frames=8, t_end=0.05, dt=2e-5, rng=0)


def test_physics_fit_stops_within_an_iteration(physics_video):
    from operando.inverse import learn_physics

    stopper = Stopper(lambda events: any(e.step == 1 for e in events))  # the first Levenberg-Marquardt iteration
    events = stopper.run(learn_physics, physics_video, n_mu=1, n_d=1, window=2, dt=8e-5, max_iter=50, rng=0)
    assert any("iteration" in e.message for e in events)


def test_physics_bootstrap_stops_within_a_sample(physics_video):
    from operando.inverse import learn_physics

    stopper = Stopper(lambda events: any(e.message.startswith("bootstrap 1/") for e in events))
    stopper.run(learn_physics, physics_video, n_mu=1, n_d=1, window=2, dt=8e-5, max_iter=5, bootstrap=500, rng=0)


@pytest.fixture(scope="module")
def stream_input(tmp_path_factory, small_model, video):
    from operando.denoise import predict, save_model
    from operando.io import write

    folder = tmp_path_factory.mktemp("cancel_stream")
    write(video, folder / "in.zarr")
    save_model(small_model, folder / "model")
    return folder, predict(small_model, video, device="cpu").to_numpy()


def _records(out):
    return sorted(json.loads(p.read_text())["index"] for p in (out / "operando_stream" / "chunks").glob("*.json"))


def test_streamed_run_keeps_finished_chunks_writes_no_partial_one_and_resumes(stream_input):
    import zarr

    from operando.io import read
    from operando.workflows.scale import predict_large

    folder, expected = stream_input
    out = folder / "cancelled.zarr"
    def inside_second_chunk(events):  # the second call after the first chunk's report: a tile check of chunk 2
        done = [i for i, e in enumerate(events) if e.fields.get("chunks_done") == 1]
        return bool(done) and len(events) - done[0] > 2

    # the first chunk is finished and recorded; the second is stopped between its tiles and never written
    stopper = Stopper(inside_second_chunk)
    stopper.run(predict_large, folder / "in.zarr", out, model=folder / "model", memory_limit="300KB",
                dtype="float32", device="cpu")
    manifest = json.loads((out / "operando_stream" / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert _records(out) == [0]
    chunk = manifest["plan"]["chunk_frames"]
    stored = zarr.open_array(str(out), path="data", mode="r")[:]
    np.testing.assert_allclose(stored[:chunk], expected[:chunk], atol=1e-6)  # the finished chunk is intact
    assert not stored[chunk:].any()  # nothing of the stopped chunk was written
    resumed = predict_large(folder / "in.zarr", out, model=folder / "model", memory_limit="300KB", dtype="float32",
                            device="cpu")
    assert resumed.skipped == 1 and resumed.n_chunks > 2
    np.testing.assert_allclose(read(out).to_numpy(), expected, atol=1e-6)


@pytest.mark.slow
def test_streamed_run_on_a_local_cluster_cancels_its_pending_chunks(stream_input, monkeypatch):
    from operando.io import read
    from operando.workflows.scale import predict_large

    monkeypatch.setenv("OPERANDO_CLUSTER_MIN_VALUES", "0")  # a real cluster on this small stack
    folder, expected = stream_input
    out = folder / "cluster_cancelled.zarr"
    stopper = Stopper(lambda events: any(e.fields.get("chunks_done") == 1 for e in events))
    stopper.run(predict_large, folder / "in.zarr", out, model=folder / "model", memory_limit="300KB",
                dtype="float32", device="cpu", scheduler="local:2")
    n_chunks = json.loads((out / "operando_stream" / "manifest.json").read_text())
    kept = _records(out)
    assert 1 <= len(kept) < -(-n_chunks["plan"]["length"] // n_chunks["plan"]["chunk_frames"])
    resumed = predict_large(folder / "in.zarr", out, model=folder / "model", memory_limit="300KB", dtype="float32",
                            device="cpu")
    assert resumed.skipped >= len(kept)
    np.testing.assert_allclose(read(out).to_numpy(), expected, atol=1e-6)


def test_denoise_benchmark_stops_in_its_loop_and_writes_nothing(tmp_path):
    from operando.bench.denoise import benchmark_denoisers

    out = tmp_path / "bd"
    stopper = Stopper(lambda events: any("median" in e.message for e in events))
    stopper.run(benchmark_denoisers, out, size=32, n_frames=12, noises=["gaussian:0.1"], methods=["gaussian", "median"],
                scanline=None, time_budget_s=2)
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_demo_stops_before_writing_its_report(tmp_path):
    from operando.bench.demo import DemoConfig, run_demo

    out = tmp_path / "demo"
    stopper = Stopper(lambda events: any("denoising" in e.message for e in events))
    stopper.run(run_demo, out, config=DemoConfig.quick(method="gaussian"))
    assert not [p for p in out.rglob("*") if p.is_file()]
