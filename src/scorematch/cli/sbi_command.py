"""The ``scorematch sbi`` command: a built-in task or a task file, its observations, and the method."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["sbi_command"]


def sbi_command(args: argparse.Namespace) -> None:
    """``scorematch sbi``: the task, the observations and the method from the command line, then the report."""
    import torch

    from ..data import load_table
    from ..report.sbi_report import sbi_report
    from ..sbi import TASKS, get_task, load_task
    from ..sbi.npse_iid import takes_iid

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out {out} exists and is not an empty folder: choose a new one")
    builtin = args.task in TASKS
    if not builtin and not args.task.endswith(".py"):
        raise ValueError(f"unknown task {args.task!r}: give a built-in task ({', '.join(TASKS)}) or a .py file")
    task = get_task(args.task) if builtin else load_task(args.task)
    if args.observation is not None and args.observation_number is not None:
        raise ValueError("give --observation or --observation-number, not both")
    truth = None
    if args.observation is not None:
        if args.observation.endswith(".npy"):  # a vector (d,) is one observation
            import numpy as np

            try:
                x = torch.from_numpy(np.asarray(np.load(args.observation, allow_pickle=False), dtype=np.float64))
            except (OSError, ValueError) as e:
                raise ValueError(f"{args.observation}: cannot be read ({str(e).splitlines()[0]})") from None
        else:
            x, _ = load_table(args.observation, dtype=torch.float64, min_rows=1)
        observations = x.reshape(1, -1) if x.ndim == 1 else x
        if observations.ndim != 2 or not torch.isfinite(observations).all():
            raise ValueError(f"{args.observation}: expected one row or a table (k, d) of finite numbers, got "
                             f"shape {tuple(x.shape)}")
    elif builtin:
        truth, obs = task.observation(args.observation_number or 1)
        observations = obs[None]
    else:
        raise ValueError("a task file needs --observation FILE (the observed data)")
    method = args.method or ("npse" if observations.shape[0] == 1 or takes_iid(task.prior) else "fsm")
    summary = sbi_report(task, out, method=method, observations=observations, n_simulations=args.simulations,
                         true_theta=truth, n_samples=args.samples, calibration=args.calibration, seed=args.seed,
                         steps=args.steps,
                         simulations_from=Path(args.simulations_from) if args.simulations_from else None,
                         progress=not args.quiet)
    facts = [f"C2ST {summary['c2st']:.3f}"] if "c2st" in summary else []
    if "coverage_error" in summary:
        facts.append(f"coverage error {summary['coverage_error']:.3f}")
    what = "mle.csv, path.png" if method == "fsm-local" else "posterior.csv, pairplot.png"
    print(f"{method} on {task.name} ({summary['simulations']} simulations){': ' if facts else ''}"
          f"{', '.join(facts)} -> {out}/{what}, report.md")
