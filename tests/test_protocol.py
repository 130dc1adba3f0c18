"""The model protocol and its one adapter, against closed forms."""

import math

import pytest
import torch

from scorematch import Energy, Score
from scorematch.data import Standardizer
from scorematch.models.analytic import Gaussian
from scorematch.protocol import EnergyModel, ScoreModel, as_model, at_sigma, has_energy, in_data_units

X = torch.tensor([[0.5, -1.0], [2.0, 0.3], [-1.5, 1.2]], dtype=torch.float64)


def test_every_kind_of_model_reads_as_the_protocol_with_the_right_score():
    target = Gaussian([1.0, -0.5], [[2.0, 0.3], [0.3, 0.5]])
    truth = target.score(X)
    readings = {
        "analytic": as_model(target),
        "Energy": as_model(Energy(target.energy)),
        "Score": as_model(Score(target.score)),
        "energy callable": as_model(target.energy, kind="energy"),
        "score callable": as_model(target.score, kind="score"),
        "energy object without score": as_model(type("E", (), {"energy": staticmethod(target.energy)})()),
    }
    for name, model in readings.items():
        assert isinstance(model, ScoreModel), name
        torch.testing.assert_close(model.score(X), truth, msg=name)
    for name in ("analytic", "Energy", "energy callable", "energy object without score"):
        model = readings[name]
        assert isinstance(model, EnergyModel) and has_energy(model), name
        e, s = model.energy_and_score(X)
        torch.testing.assert_close(e, -target.log_prob(X) + target.log_prob(X[:1])[0] + model.energy(X[:1])[0])
        torch.testing.assert_close(s, truth)
    assert not isinstance(readings["Score"], EnergyModel)


def test_nothing_is_guessed():
    with pytest.raises(TypeError, match="plain function is ambiguous"):
        as_model(lambda x: -x)
    with pytest.raises(TypeError, match="needs an energy"):
        as_model(Score(lambda x: -x), kind="energy")
    with pytest.raises(TypeError, match="score\\(x\\) method"):
        as_model(object())
    with pytest.raises(ValueError, match="one value per point"):
        as_model(lambda x: x, kind="energy").energy(X)   # a score where an energy was said
    with pytest.raises(ValueError, match="shape of x"):
        as_model(type("S", (), {"score": staticmethod(lambda x: x[:, :1])})()).score(X)


def test_at_sigma_binds_a_noise_conditional_model():
    model = Energy(lambda x, sigma: 0.5 * (x**2).sum(-1) / (1 + sigma**2))
    bound = at_sigma(model, 0.5)
    torch.testing.assert_close(bound.score(X), -X / 1.25)
    torch.testing.assert_close(bound.energy(X), 0.5 * (X**2).sum(-1) / 1.25)


def test_in_data_units_is_the_change_of_variables():
    # N(0, I) on z = (x − m)/s is N(m, diag s²) on x: E_x = ½‖(x − m)/s‖² + Σ log s, s_x = −(x − m)/s²
    stats = Standardizer(mean=(3.0, -2.0), std=(0.5, 4.0))
    m, s = torch.tensor(stats.mean, dtype=torch.float64), torch.tensor(stats.std, dtype=torch.float64)
    view = in_data_units(Energy(lambda z: 0.5 * (z**2).sum(-1)), stats, dtype=torch.float64)
    torch.testing.assert_close(view.energy(X), 0.5 * (((X - m) / s) ** 2).sum(-1) + math.log(0.5 * 4.0))
    torch.testing.assert_close(view.score(X), -(X - m) / s**2)
    score_view = in_data_units(Score(lambda z: -z), stats, dtype=torch.float64)
    assert not has_energy(score_view)
    torch.testing.assert_close(score_view.score(X), -(X - m) / s**2)
