"""Simulation-based inference: tasks with a prior and a simulator, and where known the likelihood and the exact
posterior (``tasks``); amortised Fisher score matching of the likelihood's score in the parameters, and posteriors
for one or many iid observations (``fisher``); local Fisher score matching, the maximum likelihood with standard
errors by Fisher scoring with a closed-form local score (``local``)."""

from .fisher import FisherFit, FisherScoreNet, fisher_loss, noise_width, posterior_model, train_fisher
from .local import LocalFit, LocalScore, local_mle, local_score
from .tasks import N_OBSERVATIONS, TASKS, Task, get_task, load_task, sample_prior

__all__ = ["N_OBSERVATIONS", "TASKS", "FisherFit", "FisherScoreNet", "LocalFit", "LocalScore", "Task", "fisher_loss",
           "get_task", "load_task", "local_mle", "local_score", "noise_width", "posterior_model", "sample_prior",
           "train_fisher"]
