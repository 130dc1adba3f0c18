"""Simulation-based inference: tasks with a prior and a simulator, and where known the likelihood and the exact
posterior (``tasks``); amortised Fisher score matching of the likelihood's score in the parameters, and posteriors
for one or many iid observations (``fisher``)."""

from .fisher import FisherFit, FisherScoreNet, fisher_loss, noise_width, posterior_model, train_fisher
from .tasks import N_OBSERVATIONS, TASKS, Task, get_task, load_task, sample_prior

__all__ = ["N_OBSERVATIONS", "TASKS", "FisherFit", "FisherScoreNet", "Task", "fisher_loss", "get_task", "load_task",
           "noise_width", "posterior_model", "sample_prior", "train_fisher"]
