"""Simulation-based inference: tasks with a prior and a simulator, and where known the likelihood and the exact
posterior (``tasks``)."""

from .tasks import N_OBSERVATIONS, TASKS, Task, get_task, load_task, sample_prior

__all__ = ["N_OBSERVATIONS", "TASKS", "Task", "get_task", "load_task", "sample_prior"]
