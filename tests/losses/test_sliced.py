"""Sliced SM (plain and variance-reduced) and FD-SSM are unbiased for explicit SM."""

import math

import pytest
import torch

from scorematch import Energy, Score
from scorematch.derivatives import draw_probes
from scorematch.losses import explicit, finite_difference_sliced, sliced

from nets import make_net
from tolerances import assert_close

EVENTS = [(3,), (2, 3, 3)]
K = 3000  # single-probe estimates per sample


def _field(kind, event):
    return (Energy if kind == "energy" else Score)(make_net(kind, event))


def _z_score(estimator, field, x):
    """z of the mean over K single-probe estimates minus the exact loss, on the batch average."""
    xs = x.repeat(K, *([1] * (x.ndim - 1)))
    diff = (estimator(field, xs).reshape(K, -1) - explicit(field, x)).mean(1)
    return (diff.mean() / (diff.std() / math.sqrt(K))).item()


@pytest.mark.parametrize("kind", ["energy", "score"])
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("probe", ["gaussian", "rademacher", "sphere"])
@pytest.mark.parametrize("vr", [False, True])
def test_sliced_mean_equals_explicit(kind, event, probe, vr):
    field = _field(kind, event)
    x = torch.randn(4, *event, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    z = _z_score(lambda f, xs: sliced(f, xs, probe=probe, variance_reduction=vr, generator=g), field, x)
    assert abs(z) < 3, z


@pytest.mark.parametrize("kind", ["energy", "score"])
@pytest.mark.parametrize("event", EVENTS)
def test_fd_ssm_mean_equals_explicit_at_small_eps(kind, event):
    field = _field(kind, event)
    x = torch.randn(4, *event, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(3)
    z = _z_score(lambda f, xs: finite_difference_sliced(f, xs, fd_step=1e-3, generator=g), field, x)
    assert abs(z) < 3, z


@pytest.mark.parametrize("kind", ["energy", "score"])
@pytest.mark.parametrize("event", EVENTS)
def test_fd_ssm_tends_to_sliced_with_the_same_probes_as_eps_squared(kind, event):
    field = _field(kind, event)
    x = torch.randn(5, *event, generator=torch.Generator().manual_seed(4))
    v = draw_probes(x, 3, "sphere", generator=torch.Generator().manual_seed(5))
    target = sliced(field, x, probes=v)
    errors = [(finite_difference_sliced(field, x, fd_step=e, probes=v) - target).abs().max().item()
              for e in (1e-1, 1e-2, 1e-3)]
    # central differences: error ∝ ε², so a 10× smaller ε gives ~100× smaller error
    assert errors[0] / errors[1] > 50 and errors[1] / errors[2] > 50, errors


def test_sliced_with_all_rademacher_signs_is_explicit():
    import itertools

    field = _field("energy", (3,))
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(6))
    probes = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=3)))[:, None, :].expand(8, 2, 3)
    assert_close(sliced(field, x, probes=probes), explicit(field, x))
    assert_close(sliced(field, x, probes=probes, variance_reduction=True), explicit(field, x))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f, x: sliced(f, x, n_probes=0), "n_probes must be an integer >= 1"),
        (lambda f, x: sliced(f, x, probe="uniform"), "unknown probe kind 'uniform'"),
        (lambda f, x: finite_difference_sliced(f, x, fd_step=0.0), "fd_step must be a finite number > 0"),
        (lambda f, x: finite_difference_sliced(f, x, fd_step=-1e-3), "fd_step must be a finite number > 0"),
        (lambda f, x: finite_difference_sliced(f, x, n_probes=0), "n_probes"),
        (lambda f, x: finite_difference_sliced(f, x, probe="x"), "unknown probe kind"),
    ],
)
def test_bad_options_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(_field("score", (3,)), torch.randn(4, 3))
