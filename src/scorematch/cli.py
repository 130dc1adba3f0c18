"""The ``scorematch`` command line: train, sample, eval, plot, compare, demo.

Every failure a user can cause (a missing file, a bad shape, NaN in the data, an unknown objective, σ ≤ 0, …)
ends with one line on stderr and exit code 2, and writes nothing into the run folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import NoReturn

from .options import (
    add_file_options,
    add_settings,
    choices_help,
    count_or_zero,
    fraction,
    number,
    off_or,
    positive_int,
)

__all__ = ["main"]

EXAMPLES = """examples:
  scorematch demo                                        every score-matching objective on 8gaussians; report in demo/
  scorematch train moons --objective dsm --out runs/moons
  scorematch sample runs/moons --n 2000 --out samples.npy
  scorematch eval runs/moons --points x.npy --out scores.npz
  scorematch plot runs/moons
  scorematch compare rings --objectives esm,ssm,dsm,ncsn --out cmp/
  scorematch train digits --objective ncsn --out runs/digits   handwritten digits, a conv score net
  scorematch sample runs/digits                          100 digits -> runs/digits/samples.npy and samples.png
"""




class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    from .data import BUILTIN, FILE_TYPES
    from .defaults import DEFAULTS as D
    from .registry import ESTIMATORS, MODELS, OBJECTIVES, SAMPLERS

    root = _Parser(
        prog="scorematch",
        description="Learn a probability density from samples by score matching: train energy-based models and "
                    "score networks without the partition function, sample from them, evaluate and draw them.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = root.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    S = argparse.SUPPRESS  # options left out keep the config file's / the defaults' value

    t = sub.add_parser("train", help="train a model on DATA into a run folder",
                       description="Train an energy or score model on DATA with one score-matching objective and "
                                   "write a run folder: config.json, data_stats.json, model.safetensors, "
                                   "metrics.jsonl, checkpoint/. Data are standardized first; σ and the FD step "
                                   "are in standardized units.")
    t.add_argument("data", metavar="DATA", help=f"a built-in set ({', '.join(BUILTIN)}) or a "
                   f"{'/'.join(FILE_TYPES)} file: a table (n, d), or images (n, c, h, w) or (n, h, w) in a NumPy file")
    t.add_argument("--objective", choices=OBJECTIVES.names(), default=S,
                   help=choices_help(OBJECTIVES.entries()) + " (default: esm; images: ncsn)")
    t.add_argument("--out", required=True, metavar="RUN", help="the run folder to create (or continue, --resume)")
    t.add_argument("--model", choices=MODELS.names(), default=S,
                   help=choices_help(MODELS.entries()) + " (default: energy for tables, conv for images)")
    t.add_argument("--steps", type=positive_int, default=S, metavar="N", help=f"optimizer steps (default: {D.steps})")
    t.add_argument("--batch-size", type=positive_int, default=S, metavar="B",
                   help=f"mini-batch size (default: {D.batch_size})")
    t.add_argument("--lr", type=number, default=S, metavar="LR", help=f"Adam learning rate (default: {D.lr:g})")
    t.add_argument("--lr-schedule", choices=("constant", "cosine"), default=S,
                   help=f"learning rate over the steps: constant, or cosine decay towards 0 (default: {D.lr_schedule})")
    t.add_argument("--weight-decay", type=number, default=S, metavar="W",
                   help=f"decoupled weight decay, AdamW (default: {D.weight_decay:g})")
    t.add_argument("--hidden", type=positive_int, default=S, metavar="W", help=f"hidden width (default: {D.hidden})")
    t.add_argument("--depth", type=positive_int, default=S, metavar="K", help=f"hidden layers (default: {D.depth})")
    add_settings(t)  # the objectives' own settings, from the table
    t.add_argument("--clip-grad-norm", type=off_or(number), default=S, metavar="C",
                   help=f"clip the global gradient norm to C; off: no clipping (default: {D.clip_grad_norm:g})")
    t.add_argument("--ema-decay", type=off_or(number), default=S, metavar="D",
                   help=f"exponential moving average of the weights; off: none (default: {D.ema_decay:g})")
    t.add_argument("--val-fraction", type=fraction, default=S, metavar="F",
                   help=f"share of the data held out to measure the fit (held-out Hyvärinen loss), keep the best "
                        f"weights and stop early; 0 turns it off (default: {D.val_fraction:g})")
    t.add_argument("--eval-every", type=positive_int, default=S, metavar="N",
                   help=f"steps between held-out evaluations (default: {D.eval_every})")
    t.add_argument("--patience", type=count_or_zero, default=S, metavar="N",
                   help=f"stop after N steps without a new held-out best; 0: never stop early (default: {D.patience})")
    t.add_argument("--seed", type=int, default=S, metavar="S", help="seed of data, weights and noise (default: 0)")
    add_file_options(t)
    t.add_argument("--standardize", choices=("column", "channel", "global", "off"), default=S,
                   help="the scale the model learns in: z = (x - mean)/std per column (tables' default), per channel "
                        "pooled over the pixels (images' default), one mean and std for all, or off")
    t.add_argument("--config", metavar="FILE.toml", help="settings from a TOML (or JSON) file; options given here win")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint "
                   "(its saved settings are used; --steps may raise the total)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("sample", help="draw samples from a trained run, and say whether they can be trusted",
                       description="Draw samples from a run's model, in the units of the original data, and write "
                                   "beside them (SAMPLES.json) whether the sampler converged: acceptance rate, split "
                                   "R̂ and effective sample size over the chains, for SMC the ESS of its weights and "
                                   "log Z. The default sampler suits the model: sequential Monte Carlo for energies "
                                   "(the right weights between modes), annealed Langevin for ncsn score models, "
                                   "Langevin for other score models. Step sizes are adapted unless --step-size is "
                                   "given.")
    s.add_argument("run", metavar="RUN")
    s.add_argument("--n", type=positive_int, help="number of samples (default: 1000; images: 100)")
    s.add_argument("--out", metavar="SAMPLES.npy",
                   help="where to write the samples (default: RUN/samples.npy): (n, d) as .npy, or .csv with the data's "
                        "column names; images (n, c, h, w) as .npy, with a grid of them beside it (SAMPLES.png)")
    s.add_argument("--sampler", choices=SAMPLERS.names(), help=choices_help(SAMPLERS.entries()))
    s.add_argument("--steps", type=positive_int, metavar="N",
                   help="smc: MALA moves per temperature (default 10); pt, mala, langevin, annealed: steps after "
                        "warm-up (default 1000, warm-up steps/2; annealed: shared by the levels); hmc: 200")
    s.add_argument("--step-size", type=number, metavar="EPS", help="fix the step ε instead of adapting it "
                   "(standardized units; annealed: ε at the smallest σ, in units of σ_L²)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("eval", help="score, energy and log-density of a run at given points",
                       description="Write score (n, d) and, for energy models, energy (n,) at the points, in the "
                                   "units of the original data (standardization undone exactly). For ncsn runs "
                                   "the score is the one at the smallest σ. With --log-prob, also the normalised "
                                   "log p(x) = -energy - log Z, log Z by sequential Monte Carlo, with its standard "
                                   "error (log_z, log_z_se; every log p shares that error).")
    e.add_argument("run", metavar="RUN")
    e.add_argument("--points", required=True, metavar="X.npy", help=".npy/.npz/.csv of shape (n, d), or images "
                   "(n, c, h, w) in a .npy/.npz for an image run")
    e.add_argument("--out", required=True, metavar="OUT.npz", help=".npz of arrays, or .csv of columns (score_<name>, "
                   "energy, log_prob…)")
    e.add_argument("--log-prob", action="store_true", help="also write log p(x) (energy models)")
    e.add_argument("--particles", type=positive_int, default=4096, metavar="N",
                   help="SMC particles for log Z (default: 4096; the standard error falls as 1/sqrt(N))")
    e.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("plot", help="draw a run: energy landscape, score field, samples, loss curve",
                       description="Draw the figures of a run (2-D data) into DIR (default RUN/plots). Samples come "
                                   "from the run's default sampler; the samples figure says whether it converged "
                                   "and, for energies, whether the samples' mass per mode matches the density's.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--out", metavar="DIR")
    p.add_argument("--n", type=positive_int, default=2000, help="samples to draw (default: 2000)")
    p.add_argument("--steps", type=positive_int, metavar="N", help="sampler steps (see sample --help)")
    p.add_argument("--sampler", choices=SAMPLERS.names(), help="the sampler (default: the run's, see sample --help)")
    p.add_argument("--log", action="store_true", help="draw the log-density (tails and spurious modes show)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")

    c = sub.add_parser("compare", help="train several objectives on the same data and write a report",
                       description="Train each objective on DATA with the same budget and seed, sample from each, "
                                   "and write report.md / report.json with time per step, final loss, MMD and C2ST "
                                   "against held-out data, relative Fisher divergence and 2-D KL where the truth is "
                                   "known, and the figures. On images: grids of samples, and for the built-in digits "
                                   "their Fréchet distance, class histogram and confidence read by a digit classifier.")
    c.add_argument("data", metavar="DATA")
    c.add_argument("--objectives", default=",".join(OBJECTIVES), metavar="NAMES",
                   help="comma-separated objectives, from: " f"{', '.join(OBJECTIVES)} (default: all); and score "
                   "estimators with no network, from: " + choices_help(ESTIMATORS.entries()))
    c.add_argument("--out", required=True, metavar="DIR")
    c.add_argument("--steps", type=positive_int, default=2000, metavar="N", help="steps per objective (default: 2000)")
    c.add_argument("--model", choices=MODELS.names(),
                   help="the model of every method (default: energy; images: conv, energy where a method needs one)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--quiet", action="store_true", help="no progress lines")
    c.add_argument("--log", action="store_true", help="draw log-densities (tails and spurious modes show)")
    c.add_argument("--sample-steps", type=positive_int, metavar="N",
                   help="steps of every method's sampler (default: each sampler's own, see sample --help)")
    c.add_argument("--eval-seconds", type=number, default=1.0, metavar="S",
                   help="measure each method's held-out quality every S seconds of training (default: 1)")
    add_settings(c)  # shared by every method that reads them
    add_file_options(c)

    d = sub.add_parser("demo", help="compare every score-matching objective on 8gaussians (about a minute)",
                       description="compare on the built-in 8gaussians set, whose exact score is known.")
    d.add_argument("--out", default="demo", metavar="DIR", help="report folder (default: demo)")
    return root


def _one_line_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    sys.stderr.write(f"scorematch: warning: {str(message).splitlines()[0]}\n")


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"scorematch: error: {message}\n")
    raise SystemExit(2)


def _train(args: argparse.Namespace) -> None:
    from .config import TrainConfig
    from .data import BUILTIN
    from .registry import OBJECTIVES
    from .runs import prepare_data, read_object, train_run

    given = {k: v for k, v in vars(args).items() if k in TrainConfig.keys() and k != "data"}
    if given.get("patience") == 0:
        given["patience"] = None  # never stop early
    if given.get("standardize") == "off":
        given["standardize"] = False
    data = args.data if args.data in BUILTIN else os.path.abspath(args.data)  # runs work from any folder
    if not args.out.strip():
        raise ValueError("--out must name a folder, got an empty name")
    out = Path(args.out)
    if args.resume:
        if not (out / "config.json").is_file():
            raise ValueError(f"--resume: {out} is not a run folder (config.json is missing)")
        saved = TrainConfig.from_dict(read_object(out / "config.json"))
        changed = {k: v for k, v in given.items() if k not in ("steps", "lr") and getattr(saved, k) != v}
        if changed or data != saved.data or args.config:
            what = ", ".join(changed) or ("--config" if args.config else "DATA")
            raise ValueError(f"--resume continues {out} with its saved settings; {what} differ(s): drop it or "
                             "start a new run (only --steps and --lr may change)")
        cfg = saved.replace(steps=given.get("steps", saved.steps), lr=given.get("lr", saved.lr))
    else:
        if args.config:
            cfg = TrainConfig.from_file(args.config, data=data, **given)
        else:
            cfg = TrainConfig(data=data, **given)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ValueError(f"--out {out} exists and is not empty: choose a new folder, or add --resume")
        x = prepare_data(cfg)  # validate the data before anything is written
        from_file = TrainConfig.read_file(args.config) if args.config else {}
        if x.ndim == 4 and "objective" not in given and "objective" not in from_file:
            cfg = cfg.replace(objective="ncsn")  # images: multi-scale denoising (Song & Ermon 2019)
        if x.ndim == 4 and "model" not in given and "model" not in from_file and not OBJECTIVES[cfg.objective].needs_energy:
            cfg = cfg.replace(model="conv")  # images: the convolutional score network
        if x.ndim == 4 and cfg.objective == "esm" and cfg.model == "conv":
            warnings.warn(f"esm takes the exact trace of the conv net's Jacobian: {x[0].numel()} backward passes per "
                          "image and step (docs/digits_cost.md); ssm, dsm or ncsn take one or two", stacklevel=1)

    chosen = set(given) | (set(TrainConfig.read_file(args.config)) if args.config else set())
    ladder = (OBJECTIVES[cfg.objective].conditional and not args.resume  # no σ given: the ladder of the data
              and not chosen & {"sigma", "sigma_max", "n_sigmas"})
    run, result = train_run(cfg, out, resume=args.resume, progress=False if args.quiet else None, ladder=ladder)
    last = result.history[-1] if result.history else {"loss": float("nan"), "seconds": 0.0}
    sigma = f", sigma {run.config.sigma:g} (auto)" if cfg.sigma == "auto" else ""
    if ladder:
        sigma = (f", {run.config.n_sigmas} noise levels from {run.config.sigma_max:.3g} to {run.config.sigma:.3g} "
                 "chosen from the data (ladder.json)")
    print(f"trained {cfg.objective} ({cfg.model}) on {cfg.data}: {result.steps} steps{sigma}, final loss "
          f"{last['loss']:.4g}, {result.seconds:.1f} s -> {out}")
    if result.best_step is not None:
        why = "stopped: no new best for --patience steps" if result.stop_reason == "patience" else "all steps run"
        print(f"kept the weights of step {result.best_step}, held-out Hyvärinen loss {result.best_value:.4g} ({why})")


def _sample(args: argparse.Namespace) -> None:
    from .checkpoint import atomic_write
    from .data.outputs import check_output, save_array, write_columns
    from .runs import load_run
    from .sampling import SAMPLERS, describe

    run = load_run(args.run)
    out = check_output(args.out or str(run.path / "samples.npy"), (".npy", ".csv"))
    if run.images and out.suffix.lower() == ".csv":
        raise ValueError(f"--out {out}: images are written as .npy (n, c, h, w), with a grid of them as .png")
    if args.step_size is not None and not args.step_size > 0:
        raise ValueError(f"--step-size must be > 0, got {args.step_size}")
    n = args.n or (100 if run.images else 1000)
    if not args.quiet and not sys.stderr.isatty():  # a terminal gets a progress bar instead
        print(f"drawing {n} samples ({args.sampler or run.default_sampler()})…", flush=True)
    x, report = run.draw(n, sampler=args.sampler, steps=args.steps, step_size=args.step_size, seed=args.seed,
                         progress=not args.quiet and sys.stderr.isatty())
    report_path, grid = out.with_suffix(".json"), out.with_suffix(".png")
    if out.suffix.lower() == ".csv":
        write_columns(out, dict(zip(run.columns, x.numpy().T, strict=True)))
    else:
        save_array(out, x.numpy())
    atomic_write(report_path, json.dumps(report, indent=2) + "\n")
    if run.images:
        from .plot import image_grid

        image_grid(x, title=f"{n} samples, {report['sampler']}", value_range=run.value_range, path=grid)
    print(f"{n} samples ({describe(report)}) -> {out}; diagnostics -> {report_path}"
          + (f"; grid -> {grid}" if run.images else ""))
    for line in report["warnings"]:
        sys.stderr.write(f"scorematch: warning: {line}\n")
    if not SAMPLERS[report["sampler"]].judged:  # a sampler that cannot say whether it converged says why
        sys.stderr.write(f"scorematch: note: {report['notes'][0]}\n")


def _eval(args: argparse.Namespace) -> None:
    import torch

    from .data import csv_header, load_array
    from .data.outputs import check_output, save_array, write_columns
    from .runs import load_run

    out = check_output(args.out, (".npz", ".csv"))
    run = load_run(args.run)
    if out.suffix.lower() == ".csv" and run.images:
        raise ValueError(f"--out {out}: scores of images are written as .npz (score: (n, c, h, w))")
    header = csv_header(args.points) if args.points.lower().endswith(".csv") and run.names else None
    columns = run.names if header and set(run.names) <= set(header) else None  # the run's columns, by name
    points = load_array(args.points, columns=columns, dtype=torch.float64, min_rows=1)
    arrays, summary = run.evaluate(points, log_prob=args.log_prob, n_particles=args.particles, seed=args.seed)
    if out.suffix.lower() == ".csv":  # one column per number at each point; log Z and its error are printed
        write_columns(out, {**{f"score_{n}": v for n, v in zip(run.columns, arrays["score"].T, strict=True)},
                            **{k: v for k, v in arrays.items() if k != "score" and v.ndim == 1}})
    else:
        save_array(out, arrays)
    print(f"{', '.join(k for k in arrays if not k.startswith('log_z'))} at {points.shape[0]} points -> {out}"
          + summary)


def _plot(args: argparse.Namespace) -> None:
    from .report import plot_run
    from .runs import load_run

    run = load_run(args.run)
    out = Path(args.out) if args.out else run.path / "plots"
    for path in plot_run(run, out, n_samples=args.n, steps=args.steps, sampler=args.sampler, log=args.log,
                         progress=not args.quiet):
        print(path)


def _compare(args: argparse.Namespace, *, demo: bool = False) -> None:
    from .registry import ESTIMATORS, OBJECTIVES
    from .report import compare

    if demo:
        names = [o.name for o in OBJECTIVES.entries() if o.family == "score matching"]
        report = compare("8gaussians", names, Path(args.out), steps=3000, hidden=64, n_test=1000)
    else:
        names = [n.strip() for n in args.objectives.split(",") if n.strip()]
        unknown = [n for n in names if n not in OBJECTIVES and n not in ESTIMATORS]
        if unknown or not names:
            raise ValueError(f"unknown objective(s) {', '.join(unknown) or '(none given)'}; choose from "
                             f"{', '.join(OBJECTIVES)}, or the estimators {', '.join(ESTIMATORS)}")
        if not args.eval_seconds > 0:
            raise ValueError(f"--eval-seconds must be > 0, got {args.eval_seconds}")
        from .data import BUILTIN
        from .registry import SETTINGS

        settings = {k: v for k, v in vars(args).items() if k in SETTINGS or k in ("columns", "delimiter", "key")}
        if args.data not in BUILTIN:
            args.data = os.path.abspath(args.data)  # the runs work from any folder (links are not followed here)
        report = compare(args.data, names, Path(args.out), steps=args.steps, model=args.model, seed=args.seed,
                         progress=not args.quiet, log=args.log, eval_seconds=args.eval_seconds, settings=settings,
                         sample_steps=args.sample_steps)
    print(f"report -> {report}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scorematch`` command; returns the exit code: 0 success, 2 bad input or a bad run folder
    (one line naming the file, option or key), 3 training diverged (the run folder keeps nothing of it), 1 an
    internal error, 130 interrupted (Ctrl-C at any moment, no traceback)."""
    try:
        args = _build_parser().parse_args(argv)
        from .train import TrainingDiverged
        from .tuning import tune_cpu_allocator

        tune_cpu_allocator()  # this process only: small CPU temporaries are recycled instead of mmap'd (tuning.py)
        warnings.showwarning = _one_line_warning
        commands = {"train": _train, "sample": _sample, "eval": _eval, "plot": _plot, "compare": _compare,
                    "demo": lambda a: _compare(a, demo=True)}
        try:
            commands[args.command](args)
        except TrainingDiverged as e:
            sys.stderr.write(f"scorematch: training stopped: {e}\n")
            return 3
    except KeyboardInterrupt:
        sys.stderr.write("scorematch: interrupted; a run can continue with train --resume\n")
        return 130
    except (ValueError, OSError) as e:  # DataError, RunError, CheckpointError and config errors are ValueErrors
        _fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    except Exception as e:  # a bug, not the user's input: still one line (SCOREMATCH_DEBUG=1 shows the traceback)
        text = str(e).splitlines()[0] if str(e) else ""
        if isinstance(e, MemoryError) or ("allocate" in text and "memory" in text):
            _fail(f"out of memory ({text[:160]}): ask for less (--n, --batch-size, --hidden, --depth)")
        if os.environ.get("SCOREMATCH_DEBUG"):
            raise
        sys.stderr.write(f"scorematch: internal error: {type(e).__name__}: {text} (set SCOREMATCH_DEBUG=1 for the "
                         "traceback)\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
