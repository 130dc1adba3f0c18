"""Images through the application side: standardization per channel or global, loading (n, c, h, w) arrays,
the built-in image sets, and the model builder's choice of network."""

import math

import numpy as np
import pytest
import torch

from scorematch.data import BUILTIN, IMAGE_SETS, DataError, Standardizer, image_set, load_table
from scorematch.fields import Energy, Score
from scorematch.models import NoiseConditionalScoreCNN, ScoreCNN
from scorematch.runs.config import TrainConfig
from scorematch.runs.registry import build_model


def _images(n=50, c=3, h=4, w=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor([1.0, 3.0, 0.5])[:c].view(1, c, 1, 1)
    return 2.0 + scale * torch.randn(n, c, h, w, generator=g, dtype=torch.float64)


def test_per_channel_statistics_pool_the_pixels_of_each_channel():
    x = _images()
    st = Standardizer.fit(x)
    assert st.event_shape == (3, 4, 5) and len(st.mean) == 3
    for c in range(3):
        assert st.mean[c] == pytest.approx(float(x[:, c].mean()), rel=1e-12)
        assert st.std[c] == pytest.approx(float(x[:, c].std(correction=0)), rel=1e-12)
    z = st.transform(x)
    assert torch.allclose(z.mean((0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(z.std((0, 2, 3), correction=0), torch.ones(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(st.inverse(z), x, atol=1e-12)


def test_global_statistics_are_one_mean_and_std():
    x = _images()
    st = Standardizer.fit(x, "global")
    assert st.mean == pytest.approx((float(x.mean()),)) and st.std == pytest.approx((float(x.std(correction=0)),))
    assert float(st.transform(x).std(correction=0)) == pytest.approx(1.0, abs=1e-12)


def test_log_scale_is_the_jacobian_over_every_pixel():
    """log p_x(x) = log p_z(z) − Σ log s over all c·h·w coordinates, checked against torch.distributions on x."""
    x = _images(n=5)
    st = Standardizer.fit(x)
    m = torch.tensor(st.mean, dtype=torch.float64).view(3, 1, 1).expand(3, 4, 5)
    s = torch.tensor(st.std, dtype=torch.float64).view(3, 1, 1).expand(3, 4, 5)
    exact = torch.distributions.Normal(m, s).log_prob(x).flatten(1).sum(1)
    in_z = torch.distributions.Normal(0.0, 1.0).log_prob(st.transform(x)).flatten(1).sum(1)
    assert torch.allclose(st.log_prob_to_data(in_z), exact, atol=1e-10)
    assert st.log_scale == pytest.approx(20 * sum(math.log(v) for v in st.std))


def test_round_trip_and_table_compatibility():
    st = Standardizer.fit(_images())
    assert Standardizer.from_dict(st.to_dict()) == st
    table = Standardizer((1.0, 2.0), (3.0, 4.0))  # a run folder written before event shapes
    assert table.event_shape == (2,) and "event_shape" not in table.to_dict()
    assert Standardizer.identity((1, 8, 8)).transform(torch.ones(2, 1, 8, 8)).eq(1).all()


@pytest.mark.parametrize("make, message", [
    (lambda: Standardizer.fit(_images(), "column"), "per='column' does not apply"),
    (lambda: Standardizer.fit(torch.randn(9, 2), "channel"), "per='channel' does not apply"),
    (lambda: Standardizer.fit(torch.zeros(4, 1, 2, 2)), "channel 1 is constant"),
    (lambda: Standardizer((0.0, 0.0), (1.0, 1.0), (3, 4, 4)), "do not fit the event shape"),
    (lambda: Standardizer.fit(_images()).transform(torch.zeros(2, 3, 5, 4)), "expected samples of shape (3, 4, 5)"),
    (lambda: Standardizer.from_dict({"mean": "12", "std": [1.0]}), "mean must be a list of numbers"),
])
def test_bad_statistics_are_refused_in_one_line(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_numpy_images_load_with_their_shape(tmp_path):
    g = np.random.default_rng(0)
    np.save(tmp_path / "rgb.npy", g.random((6, 3, 4, 4)))
    np.savez(tmp_path / "mnist.npz", x_train=g.integers(0, 256, (7, 5, 5), dtype=np.uint8), y_train=np.arange(7))
    x, names = load_table(tmp_path / "rgb.npy")
    assert x.shape == (6, 3, 4, 4) and names is None
    grey, _ = load_table(tmp_path / "mnist.npz", key="x_train")
    assert grey.shape == (7, 1, 5, 5) and float(grey.max()) <= 255
    with pytest.raises(DataError, match="holds 2 arrays"):
        load_table(tmp_path / "mnist.npz")


def test_bad_image_arrays_name_the_image_channel_and_pixel(tmp_path):
    bad = np.zeros((4, 2, 3, 3))
    bad[2, 1, 0, 2] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    np.save(tmp_path / "five.npy", np.zeros((2, 1, 1, 2, 2)))
    with pytest.raises(DataError, match=r"image 3, channel 2, pixel \(1, 3\): value nan is not finite"):
        load_table(tmp_path / "bad.npy")
    with pytest.raises(DataError, match=r"need a table .* or images"):
        load_table(tmp_path / "five.npy")
    with pytest.raises(DataError, match="columns= needs a 2-D array"):
        load_table(tmp_path / "bad.npy", columns=["1"])


def test_built_in_image_sets_are_dequantized_digits():
    assert set(IMAGE_SETS) <= set(BUILTIN) and "moons" in BUILTIN
    a = image_set("digits", generator=torch.Generator().manual_seed(0))
    b = image_set("digits", generator=torch.Generator().manual_seed(0))
    assert a.shape == (1437, 1, 8, 8) and torch.equal(a, b) and 0 <= float(a.min()) and float(a.max()) < 1
    assert image_set("digits", "test", generator=torch.Generator()).shape == (360, 1, 8, 8)
    with pytest.raises(ValueError, match="unknown image set"):
        image_set("mnist")


def test_model_builder_picks_networks_for_images():
    images = (1, 8, 8)
    conv = build_model(TrainConfig("digits", model="conv", objective="dsm", conv_width=8, conv_blocks=1), images)
    assert isinstance(conv, Score) and isinstance(conv.net, ScoreCNN)
    ncsn = build_model(TrainConfig("digits", model="conv", objective="ncsn", conv_width=8, conv_blocks=1), images)
    assert isinstance(ncsn.net, NoiseConditionalScoreCNN) and not isinstance(ncsn.net, ScoreCNN)
    x = torch.randn(3, *images, dtype=torch.float32)
    assert conv(x).shape == x.shape and ncsn(x, torch.full((3,), 0.5, dtype=torch.float32)).shape == x.shape
    energy = build_model(TrainConfig("digits", objective="esm"), images)  # an MLP energy on the 64 pixels
    assert isinstance(energy, Energy) and energy(x).shape == (3,)
    with pytest.raises(ValueError, match="--model conv needs images"):
        build_model(TrainConfig("moons", model="conv"), (2,))
    with pytest.raises(ValueError, match="conv_width must be a multiple of 8"):
        TrainConfig("digits", conv_width=12)
    with pytest.raises(ValueError, match="standardize must be true, false, 'off' or one of"):
        TrainConfig("digits", standardize="pixel")


def test_channels_last_arrays_are_refused_with_the_transpose(tmp_path):
    np.save(tmp_path / "cifar.npy", np.zeros((5, 32, 32, 3)))
    with pytest.raises(DataError, match=r"look channels-last .* x.transpose\(0, 3, 1, 2\)"):
        load_table(tmp_path / "cifar.npy")


def test_config_and_run_statistics_are_checked():
    assert TrainConfig("digits", standardize="off").standardize is False
    with pytest.raises(ValueError, match="event_shape must be a list of whole numbers"):
        Standardizer.from_dict({"mean": [0.0], "std": [1.0], "event_shape": [1, 8.5, 8]})
