"""The preconditioner: the whitened model's score is the chain rule's, its maps invert each other, and on a
correlated, badly scaled Gaussian preconditioned MALA and HMC reach the exact covariance where plain MALA does not."""

import math

import pytest
import torch

from scorematch import Energy
from scorematch.samplers import Whitened, adapt_preconditioner, adapt_step_size, hmc, mala
from scorematch.samplers.chains import run_chains


def _gaussian(d=10, seed=0):
    """N(0, Σ) with Σ's eigenvalues from 0.01 to 100 (condition number 1e4) in a random basis."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    cov = Q @ torch.diag(torch.logspace(-2, 2, d, dtype=torch.float64)) @ Q.T
    prec = torch.linalg.inv(cov)
    return Energy(lambda x: 0.5 * ((x @ prec) * x).sum(-1)), cov


def test_the_whitened_score_is_the_gradient_in_z_and_the_maps_invert():
    model, cov = _gaussian(4)
    g = torch.Generator().manual_seed(1)
    w = Whitened(model, torch.randn(4, generator=g, dtype=torch.float64), torch.linalg.cholesky(cov))
    z = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(w.energy(z).sum(), z)
    assert torch.allclose(w.score(z.detach()), -grad, atol=1e-12)
    e, s = w.energy_and_score(z.detach())
    assert torch.allclose(s, -grad, atol=1e-12) and torch.allclose(e, w.energy(z.detach()))
    assert torch.allclose(w.to_z(w.to_x(z.detach())), z.detach(), atol=1e-12)
    # with L L^T = Σ the z-target is N(0, I): its score is -z
    w0 = Whitened(model, torch.zeros(4, dtype=torch.float64), torch.linalg.cholesky(cov))
    assert torch.allclose(w0.score(z.detach()), -z.detach(), atol=1e-9)


def _covariance_error(draws, cov):
    """The largest |Σ̂_ij − Σ_ij| / sqrt(Σ_ii Σ_jj): a correlation-scale error."""
    est = torch.cov(draws.T)
    sd = cov.diagonal().sqrt()
    return ((est - cov) / torch.outer(sd, sd)).abs().max().item()


def test_preconditioned_samplers_reach_the_covariance_plain_mala_does_not():
    model, cov = _gaussian()
    n_chains, warm, steps = 512, 300, 300
    bound = 4 * math.sqrt(2 / n_chains)  # ~4 standard errors of a correlation-scale entry
    x0 = torch.randn(n_chains, 10, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for name, make, target in (("mala", lambda m, e: mala(m, e), 0.57), ("hmc", lambda m, e: hmc(m, e, 5), 0.75)):
        g = torch.Generator().manual_seed(3)
        w, r = adapt_preconditioner(make, model, x0, warm, target_accept=target, generator=g)
        out = run_chains(make(w, r.step_size), r.state, steps, generator=g)
        err = _covariance_error(w.to_x(out.x), cov)
        assert err < bound and out.rhat < 1.05, (name, err, out.rhat)
    g = torch.Generator().manual_seed(3)
    r = adapt_step_size(lambda e: mala(model, e), x0, warm, generator=g)
    plain = run_chains(mala(model, r.step_size), r.state, steps, generator=g)
    assert _covariance_error(plain.x, cov) > 2 * bound and plain.rhat > 1.1, (_covariance_error(plain.x, cov),
                                                                             plain.rhat)


def test_bad_input_is_refused():
    model, _ = _gaussian(3)
    with pytest.raises(ValueError, match=r"\(B, d\)"):
        adapt_preconditioner(lambda m, e: mala(m, e), model, torch.randn(8, 3, 1), 10)
    with pytest.raises(ValueError, match="chol"):
        Whitened(model, torch.zeros(3), torch.eye(2))


def test_with_few_chains_only_the_variances_are_used():
    """8 chains in 10 dimensions span 7 directions: a dense estimate would pin the other 3 to the ridge."""
    model, _ = _gaussian()
    x0 = torch.randn(8, 10, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    w, _ = adapt_preconditioner(lambda m, e: mala(m, e), model, x0, 200, generator=torch.Generator().manual_seed(3))
    assert torch.equal(w.chol, torch.diag(w.chol.diagonal())) and (w.chol.diagonal() > 0).all()
    x0 = torch.randn(64, 10, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    w, _ = adapt_preconditioner(lambda m, e: mala(m, e), model, x0, 200, generator=torch.Generator().manual_seed(3))
    assert (w.chol.tril(-1) != 0).any()  # enough chains: dense
