"""Simulation-based inference: tasks with a prior and a simulator, and where known the likelihood and the exact
posterior (``tasks``); amortised Fisher score matching of the likelihood's score in the parameters, and posteriors
for one or many iid observations (``fisher``); local Fisher score matching, the maximum likelihood with standard
errors by Fisher scoring with a closed-form local score (``local``); neural posterior score estimation, a
diffusion model of θ given x (``npse``), composed for iid observations (``npse_iid``)."""

from .fisher import FisherFit, FisherScoreNet, fisher_loss, noise_width, posterior_model, train_fisher
from .local import LocalFit, LocalScore, local_mle, local_score
from .npse import NPSEFit, PosteriorScoreNet, npse_sample, train_npse
from .npse_iid import diffused_prior_score, takes_iid
from .tasks import N_OBSERVATIONS, TASKS, Task, get_task, load_task, sample_prior

__all__ = ["N_OBSERVATIONS", "TASKS", "FisherFit", "FisherScoreNet", "LocalFit", "LocalScore", "NPSEFit",
           "PosteriorScoreNet", "Task", "diffused_prior_score", "fisher_loss",
           "get_task", "load_task", "local_mle", "local_score", "noise_width", "npse_sample", "posterior_model",
           "sample_prior", "takes_iid", "train_fisher", "train_npse"]
