"""Figures: what each function draws (read back from the artists), that it saves a readable PNG, that every kind of
model is accepted, that bad inputs fail in one line, and that importing scorematch imports no matplotlib."""

import math
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest
import torch
from matplotlib.quiver import Quiver

from scorematch import Energy, Score
from scorematch.models import EnergyMLP, ScoreMLP
from scorematch.models.analytic import Gaussian, eight_gaussians, rings
from scorematch.plot import (
    ColumnSpec,
    comparison_grid,
    energy_landscape,
    loss_curves,
    samples_over_data,
    score_field,
    smooth,
)

BOX = ((-4.0, 4.0), (-4.0, 4.0))


def _data(n=300):
    return eight_gaussians().sample(n, generator=torch.Generator().manual_seed(0))


def _history(n=200, scale=1.0):
    return [{"step": 10 * s, "loss": scale * math.exp(-s / 40), "seconds": 0.01 * s} for s in range(n)]


def _read_png(path, min_side=250, max_side=5000):
    assert path.stat().st_size > 0
    image = matplotlib.image.imread(path)
    h, w = image.shape[:2]
    assert min_side <= h <= max_side and min_side <= w <= max_side, (h, w)
    return image


def _pixel_centre(image, i, j):
    """Data coordinates of the centre of array element (i, j) of an AxesImage, from its extent and origin."""
    rows, cols = image.get_array().shape[:2]
    left, right, bottom, top = image.get_extent()
    if image.origin == "upper":
        bottom, top = top, bottom
    return left + (j + 0.5) * (right - left) / cols, bottom + (i + 0.5) * (top - bottom) / rows


def _quiver(fig):
    (q,) = [c for c in fig.axes[0].collections if isinstance(c, Quiver)]
    return q


MODELS = {
    "Energy(EnergyMLP)": lambda: Energy(EnergyMLP(2, hidden=16)),
    "Score(ScoreMLP)": lambda: Score(ScoreMLP(2, hidden=16)),
    "analytic": rings,
    "Energy(callable)": lambda: Energy(lambda x: 0.5 * (x**2).sum(-1)),
    "Score(callable)": lambda: Score(lambda x: -x),
    "Energy(callable (B, 1))": lambda: Energy(lambda x: 0.5 * (x**2).sum(-1, keepdim=True)),
}


def test_a_plain_callable_is_what_the_figure_draws_an_energy_for_a_landscape_a_score_for_a_field():
    density = np.asarray(energy_landscape(lambda x: 0.5 * (x**2).sum(-1), resolution=40).axes[0].images[0].get_array())
    assert density.max() == pytest.approx(1 / (2 * np.pi), rel=0.02)   # normalised N(0, I) on the box
    q = _quiver(score_field(lambda x: -2 * x, n=10))
    truth = -2 * np.stack([q.X, q.Y], -1)
    assert np.asarray(q.get_array()) == pytest.approx(np.linalg.norm(truth, axis=-1), rel=1e-5)
    with pytest.raises(ValueError, match="one value per point"):
        energy_landscape(lambda x: -x, resolution=8)   # a score given where an energy is read


@pytest.mark.parametrize("kind", list(MODELS))
def test_energy_landscape_and_score_field_take_every_kind_of_model(kind, tmp_path):
    model = MODELS[kind]()
    fig = energy_landscape(model, resolution=40, data=_data(), path=tmp_path / "density.png")
    assert len(fig.axes) == 1 and len(fig.axes[0].images) == 1
    assert np.isfinite(fig.axes[0].images[0].get_array()).all()
    _read_png(tmp_path / "density.png")
    fig = score_field(model, n=9, data=_data(), path=tmp_path / "score.png")
    assert len(fig.axes) == 1 and _quiver(fig).N == 81
    _read_png(tmp_path / "score.png")


def test_density_image_is_normalised_and_oriented_x_right_y_up():
    target = Gaussian([1.5, -2.5], [[0.09, 0.0], [0.0, 0.09]])    # off both axes and diagonals: a flip or a
    box = ((-4.0, 4.0), (-3.5, 1.5))                               # transpose moves the peak far away
    image = energy_landscape(target, box=box, resolution=80).axes[0].images[0]
    density = np.asarray(image.get_array())
    assert density.shape == (80, 80)
    assert density.sum() * (8.0 / 80) * (5.0 / 80) == pytest.approx(1.0, abs=1e-4)
    x, y = _pixel_centre(image, *np.unravel_index(np.argmax(density), density.shape))
    assert abs(x - 1.5) <= 0.1 and abs(y + 2.5) <= 0.0625


def test_density_of_eight_gaussians_peaks_at_a_mode_and_log_density_is_floored():
    target = eight_gaussians()
    image = energy_landscape(target, resolution=100).axes[0].images[0]
    density = np.asarray(image.get_array())
    x, y = _pixel_centre(image, *np.unravel_index(np.argmax(density), density.shape))
    assert torch.linalg.vector_norm(target.means - torch.tensor([x, y]), dim=-1).min() < 0.1
    log_image = np.asarray(energy_landscape(target, resolution=100, log=True).axes[0].images[0].get_array())
    assert log_image.max() == pytest.approx(np.log(density.max()), abs=1e-5)
    assert log_image.min() == pytest.approx(log_image.max() - 12.0)


def test_score_only_model_shows_the_score_magnitude():
    target = eight_gaussians()
    ax = energy_landscape(Score(target.score), resolution=64).axes[0]
    magnitude = np.asarray(ax.images[0].get_array())
    x, y = _pixel_centre(ax.images[0], 40, 10)
    expected = torch.linalg.vector_norm(target.score(torch.tensor([[x, y]]))).item()
    assert magnitude[40, 10] == pytest.approx(expected, rel=1e-4)
    assert "no energy" in ax.get_title()


def test_quiver_points_along_the_true_score_of_a_gaussian_and_is_coloured_by_its_magnitude():
    target = Gaussian([0.5, -1.0], [[1.0, 0.6], [0.6, 2.0]])
    box = ((-3.0, 3.0), (-4.0, 2.0))
    for model in (target, Energy(target.energy), Score(target.score)):
        q = _quiver(score_field(model, box=box, n=12))
        xy = torch.tensor(np.stack([q.X, q.Y], -1))
        truth = target.score(xy).numpy()
        uv = np.stack([q.U, q.V], -1)
        cos = (uv * truth).sum(-1) / (np.linalg.norm(uv, axis=-1) * np.linalg.norm(truth, axis=-1))
        assert cos.min() > 0.9999
        k = np.argmin((q.X - 2.25) ** 2 + (q.Y - 0.75) ** 2)            # the cell centre at (2.25, 0.75)
        assert (q.X[k], q.Y[k]) == pytest.approx((2.25, 0.75))
        assert np.asarray(q.get_array())[k] == pytest.approx(np.linalg.norm(truth[k]), rel=1e-4)


def test_score_field_cells_are_square_on_a_wide_box():
    q = _quiver(score_field(lambda x: -x, box=((-4.0, 4.0), (-1.0, 1.0)), n=20))
    assert (len(np.unique(q.X)), len(np.unique(q.Y))) == (20, 5)
    assert np.linalg.norm(np.stack([q.U, q.V], -1), axis=-1) == pytest.approx(np.full(100, 0.32))


def test_models_are_evaluated_in_their_parameter_dtype_or_the_one_asked_for():
    seen = []
    for dtype in (torch.float32, torch.float64):
        model = Energy(EnergyMLP(2, hidden=8).to(dtype))
        model.net.register_forward_hook(lambda _m, args, _out: seen.append(args[0].dtype))
        energy_landscape(model, resolution=8)
        score_field(model, n=4)
        assert seen[-2:] == [dtype, dtype]
    net = Energy(EnergyMLP(2, hidden=8).to(torch.float64))
    bound = lambda x: seen.append(x.dtype) or net(x)  # noqa: E731  no parameters of its own
    energy_landscape(bound, resolution=8, dtype=torch.float64)
    assert seen[-1] == torch.float64
    energy_landscape(Score(lambda x: seen.append(x.dtype) or -x), resolution=8)
    assert seen[-1] == torch.float32


def test_samples_over_data_counts_what_it_cannot_draw(tmp_path):
    samples = _data(500) * 1.2
    samples[:3] = float("nan")
    samples[3:10] = 50.0
    fig = samples_over_data(samples, _data(3000), path=tmp_path / "samples.png")
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.collections) == 2
    assert ax.collections[0].get_offsets().shape[0] == 2000                  # data subsampled to the limit
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["data (n=3000)", "samples (n=500, 3 non-finite, 7 off the box)"]
    assert (ax.get_xlim(), ax.get_ylim()) == (BOX[0], BOX[1])
    _read_png(tmp_path / "samples.png")


def test_loss_curves_one_panel_per_run(tmp_path):
    runs = {"dsm": _history(), "ssm": _history(50, -30.0), "esm": [{"loss": 1.0}, {"loss": 0.5}, {"step": 3}]}
    fig = loss_curves(runs, path=tmp_path / "loss.png")
    assert [ax.get_title() for ax in fig.axes] == ["dsm  (1.99 s)", "ssm  (0.49 s)", "esm"]
    assert len(fig.axes[0].lines) == 2                                        # raw and smoothed
    (curve,) = fig.axes[2].lines                                              # 2 points: nothing to smooth
    assert list(curve.get_xdata()) == [0, 1] and list(curve.get_ydata()) == [1.0, 0.5]  # steps: the index
    _read_png(tmp_path / "loss.png", min_side=200)
    assert len(loss_curves(_history()).axes) == 1
    assert len(loss_curves({str(k): _history(20) for k in range(6)}).axes) == 6


def test_loss_curves_draw_the_held_out_criterion_with_its_best_step():
    history = [{"step": s, "loss": -s / 10.0} for s in range(10, 310, 10)]
    for r, v in zip(history[9::10], [-3.0, -5.0, -4.0], strict=True):  # evaluated at steps 100, 200, 300
        r["val_hyvarinen"] = v
    fig = loss_curves({"esm": history})
    _, held_ax = fig.axes
    (held, best) = held_ax.lines
    assert list(held.get_xdata()) == [100, 200, 300] and list(held.get_ydata()) == [-3.0, -5.0, -4.0]
    assert list(best.get_xdata()) == [200, 200]  # the dotted line at the best step
    assert len(loss_curves(_history()).axes) == 1  # no held-out entries: no second axis


def test_smooth_is_a_debiased_moving_average():
    assert smooth(np.full(5, 3.0), 0.9) == pytest.approx(np.full(5, 3.0))
    assert smooth(np.array([2.0, np.nan, 4.0]), 0.0).tolist()[::2] == [2.0, 4.0]


def test_comparison_grid_has_a_row_per_picture_and_a_column_per_objective(tmp_path):
    data = _data()
    columns = {
        "dsm": ColumnSpec(model=Energy(EnergyMLP(2, hidden=8)), samples=data * 1.1, history=_history(), note="KL 0.1"),
        "score net": ColumnSpec(model=Score(ScoreMLP(2, hidden=8)), history=_history(30, 5.0)),
        "cd": ColumnSpec(samples=data),
    }
    fig = comparison_grid(columns, data, truth=eight_gaussians(), resolution=30, n=8, path=tmp_path / "grid.png")
    assert len(fig.axes) == 4 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == ["truth\nexact target", "dsm\nKL 0.1", "score net", "cd"]
    _read_png(tmp_path / "grid.png", min_side=1000)
    fig = comparison_grid({"rings": rings()}, data, resolution=30, n=8)      # a bare model is a column's model
    assert len(fig.axes) == 2


@pytest.mark.parametrize("call", [
    lambda: samples_over_data(torch.zeros(10, 3), _data()),
    lambda: samples_over_data(torch.zeros(10), _data()),
    lambda: samples_over_data(torch.zeros(10, 2), torch.zeros(2, 10)),
    lambda: comparison_grid({}, _data()),
    lambda: comparison_grid({"a": ColumnSpec()}, _data()),
    lambda: energy_landscape(rings(), box=((1.0, 1.0), (-1.0, 1.0))),
    lambda: score_field(rings(), box=((-1.0, 1.0), (2.0, -2.0))),
    lambda: samples_over_data(_data(), _data(), box=((0.0, -1.0), (-1.0, 1.0))),
    lambda: comparison_grid({"r": rings()}, _data(), box=((-1.0, 1.0), (0.0, 0.0))),
    lambda: energy_landscape(lambda x: x.repeat(1, 2)),
    lambda: energy_landscape(rings(), resolution=0),
    lambda: loss_curves({}),
    lambda: loss_curves([{"step": 1}]),
    lambda: loss_curves([{"loss": 1.0}], smoothing=1.0),
])
def test_bad_inputs_raise_a_one_line_value_error(call):
    with pytest.raises(ValueError) as info:
        call()
    assert "\n" not in str(info.value)


def test_importing_scorematch_imports_no_matplotlib_and_drawing_opens_no_pyplot():
    code = (
        "import sys, scorematch, scorematch.plot\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "scorematch.plot.energy_landscape(scorematch.models.analytic.rings(), resolution=8)\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
