"""The metrics accept the analytic targets of scorematch.models.analytic directly (energy, score, log_prob)
and agree with what is known about a normalised multimodal density: log Z = 0, KL(p‖p) = 0, KSD ≈ 0."""

import torch

from scorematch.metrics import ais_log_z, fisher_divergence, grid_metrics, ksd2
from scorematch.models.analytic import eight_gaussians


def test_eight_gaussians_is_normalised_on_a_grid_and_by_ais():
    target = eight_gaussians()
    data = target.sample(200, generator=torch.Generator().manual_seed(0))
    grid = grid_metrics(target, box=((-8.0, 8.0), (-8.0, 8.0)), resolution=300, data=data, target_log_prob=target)
    assert abs(grid.log_z) < 1e-6 and abs(grid.kl) < 1e-12
    assert abs(grid.log_likelihood - target.log_prob(data).mean().item()) < 1e-6
    ais = ais_log_z(target, 2, base_std=3.0, n_temperatures=100, generator=torch.Generator().manual_seed(1))
    assert abs(ais.log_z) < 3 * ais.standard_error


def test_score_metrics_take_the_target_itself():
    target = eight_gaussians()
    x = target.sample(400, generator=torch.Generator().manual_seed(2))
    assert fisher_divergence(target, target, x) == 0
    near, far = ksd2(x, target), ksd2(x * 1.3, target)
    assert abs(near) < 0.1 * far
