"""The samplers of a diffusion model on a Gaussian: with the exact diffused score (``diffused_mixture``), each
sampler's samples from the prior down have the data's mean and covariance within 0.1 (4000 samples: the Monte Carlo
error is about 0.02, the rest the discretisation's), and the report counts the score evaluations."""

import pytest
import torch

from scorematch.diffusion import VE, VP, SubVP, time_score
from scorematch.models import Gaussian
from scorematch.samplers.reverse import reverse_kernel, reverse_sample

DATA = Gaussian(torch.tensor([1.0, -1.0]), torch.tensor([[1.0, 0.5], [0.5, 0.8]]))
CASES = [(sde, s) for sde in (VE(0.01, 20.0), VP(), SubVP()) for s in ("sde", "pc", "ode", "ddpm")
         if s != "ddpm" or type(sde) is VP]


@pytest.mark.parametrize(("sde", "sampler"), CASES, ids=lambda c: c if isinstance(c, str) else type(c).__name__)
def test_each_sampler_draws_the_gaussian(sde, sampler):
    x, nfe = reverse_sample(time_score(DATA, sde), sde, 4000, (2,), sampler=sampler, steps=300,
                            generator=torch.Generator().manual_seed(0))
    assert (x.mean(0) - DATA.mean).abs().max() < 0.1, (x.mean(0), DATA.mean)
    assert (torch.cov(x.T) - DATA.cov).abs().max() < 0.1, torch.cov(x.T)
    per_step = {"sde": 1, "pc": 2, "ddpm": 1}.get(sampler)
    assert nfe == (1 + 300 * per_step + 1 if per_step else nfe) and nfe > 10


def test_ddpm_is_for_vp_only_and_options_are_checked():
    with pytest.raises(ValueError, match="ddpm"):
        reverse_kernel(lambda x, t: -x, SubVP(), 10, kind="ddpm")
    with pytest.raises(ValueError, match="sampler"):
        reverse_sample(lambda x, t: -x, VP(), 10, (2,), sampler="nope")
    with pytest.raises(ValueError, match="snr"):
        reverse_kernel(lambda x, t: -x, VP(), 10, snr=0.0)


@pytest.mark.parametrize("sampler", ["pc", "ode"])
def test_separated_modes_keep_their_weights(sampler):
    """Two components 8 standard deviations apart, weights 0.2 / 0.8: sampling from the prior down puts each
    sample in a mode by the diffused law's weights (Langevin from a wide start cannot), within 3 binomial s.e."""
    from scorematch.models import GaussianMixture

    eye = torch.eye(2)
    data = GaussianMixture([0.2, 0.8], torch.tensor([[-4.0, 0.0], [4.0, 0.0]]), torch.stack([0.25 * eye, 0.25 * eye]))
    x, _ = reverse_sample(time_score(data, VP()), VP(), 4000, (2,), sampler=sampler, steps=300,
                          generator=torch.Generator().manual_seed(1))
    share = float((x[:, 0] < 0).double().mean())
    assert abs(share - 0.2) < 3 * (0.2 * 0.8 / 4000) ** 0.5, share
