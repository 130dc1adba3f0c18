"""The ``scorematch`` command line: train, sample, eval, plot, compare, demo, graph, ica, sbi.

Every failure a user can cause (a missing file, a bad shape, NaN in the data, an unknown objective, σ ≤ 0, …)
ends with one line on stderr and exit code 2, and writes nothing into the run folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

from .options import build_parser as _build_parser
from .sbi_command import sbi_command

__all__ = ["main"]

def _one_line_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    sys.stderr.write(f"scorematch: warning: {str(message).splitlines()[0]}\n")


def _rank() -> int:
    """This process's rank under torchrun (0 alone)."""
    from .._infra.distributed import world

    return world()[0]


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"scorematch: error: {message}\n")
    raise SystemExit(2)


def _train(args: argparse.Namespace) -> None:
    from .._infra.checkpoint import remove_leftovers
    from ..data import BUILTIN
    from ..runs.config import TrainConfig
    from ..runs.lock import LOCK_NAME, run_lock

    given = {k: v for k, v in vars(args).items() if k in TrainConfig.keys() and k != "data"}
    if given.get("patience") == 0:
        given["patience"] = None  # never stop early
    if given.get("standardize") == "off":
        given["standardize"] = False
    data = args.data if args.data in BUILTIN else os.path.abspath(args.data)  # runs work from any folder
    if not args.out.strip():
        raise ValueError("--out must name a folder, got an empty name")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: choose a folder")
    if args.resume and not (out / "config.json").is_file():
        raise ValueError(f"--resume: {out} is not a run folder (config.json is missing)")
    if _rank() != 0:  # under torchrun rank 0 checks, locks and writes the folder; the others train beside it
        _train_locked(args, given, data, out, {})
        return
    created, begun = not out.exists(), {}
    out.mkdir(parents=True, exist_ok=True)
    try:
        with run_lock(out, what="scorematch train"):
            remove_leftovers(out)  # what a killed writer left half-written
            _train_locked(args, given, data, out, begun)
    except BaseException:
        if (created or begun) and not (out / "checkpoint" / "latest.json").is_file():  # failed before a checkpoint
            if created:
                shutil.rmtree(out, ignore_errors=True)
            else:  # a new run in an empty folder: empty it again
                for p in out.iterdir():
                    if p.name != LOCK_NAME:
                        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        raise


def _train_locked(args: argparse.Namespace, given: dict, data: str, out: Path, begun: dict) -> None:
    from ..runs.config import TrainConfig
    from ..runs.lock import LOCK_NAME
    from ..runs.registry import OBJECTIVES, default_model
    from ..runs.run import prepare_data, read_object, train_run

    if args.resume:
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
        if _rank() == 0 and any(p.name != LOCK_NAME for p in out.iterdir()):
            raise ValueError(f"--out {out} exists and is not empty: choose a new folder, or add --resume")
        begun["new"] = True  # from here on what is written belongs to this run
        x = prepare_data(cfg)  # validate the data before anything is written
        from_file = TrainConfig.read_file(args.config) if args.config else {}
        shape, said = tuple(x.shape[1:]), set(given) | set(from_file)
        if "objective" not in said and default_model(shape).default_objective:  # images: ncsn
            cfg = cfg.replace(objective=default_model(shape).default_objective)
        if "model" not in said:  # the kind for the data's shape (images: the conv score network)
            cfg = cfg.replace(model=default_model(shape, cfg.objective).name)
        from .._infra.defaults import multilevel_defaults, table_defaults
        from ..data import BUILTIN

        scaled = table_defaults(x.shape[0])  # a group: any of its settings given, none is applied
        if x.ndim == 2 and data not in BUILTIN and scaled and not set(scaled) & (set(given) | set(from_file)):
            cfg = cfg.replace(**scaled)
            said = ", ".join(f"{k} {v}" for k, v in scaled.items())
            print(f"a table of {x.shape[0]} rows: {said} (defaults.table_defaults: exact score matching learns the "
                  "spikes of a few hundred rows; give --objective or --sigma to choose)", flush=True)
        named = set(given) | set(from_file)  # across noise levels (diffusion, ncsn): longer, wider, no patience
        taken = {k: v for k, v in multilevel_defaults(cfg.objective, x.ndim == 4).items() if k not in named}
        if taken:
            cfg = cfg.replace(**taken)
            listed = ", ".join(f"{k} {'off' if v is None else v}" for k, v in taken.items())
            print(f"this {cfg.objective} run: {listed} (defaults.multilevel_defaults: it learns every noise level, the "
                  "finest last; give any of them to choose)", flush=True)
        if x.ndim == 4 and cfg.objective == "esm" and cfg.model == "conv":
            warnings.warn(f"esm takes the exact trace of the conv net's Jacobian: {x[0].numel()} backward passes per "
                          "image and step (docs/digits_cost.md); ssm, dsm or ncsn take one or two", stacklevel=1)

    chosen = set(given) | (set(TrainConfig.read_file(args.config)) if args.config else set())
    entry = OBJECTIVES[cfg.objective]
    ladder = (entry.conditional and (entry.sde is None or cfg.sde == "ve")  # ncsn or ve, no σ given: the data's
              and not args.resume and not chosen & {"sigma", "sigma_max", "n_sigmas"}) or (
        entry.sde is not None and cfg.sde != "ve" and not args.resume and "beta_max" not in chosen)  # vp: β_max
    run, result = train_run(cfg, out, resume=args.resume, progress=False if args.quiet else None, ladder=ladder,
                            allow_data_change=args.allow_data_change, device=args.device)
    if _rank() != 0:
        return
    last = result.history[-1] if result.history else {"loss": float("nan"), "seconds": 0.0}
    sigma = f", sigma {run.config.sigma:g} (auto)" if cfg.sigma == "auto" else ""
    if ladder and entry.sde is not None and cfg.sde != "ve":
        sigma = f", β from {run.config.beta_min:g} to {run.config.beta_max:.3g} chosen from the data (sde.json)"
    elif ladder and entry.sde is not None:  # ve: its σ range, as NCSNv2's rules choose it for a ladder
        sigma = (f", σ from {run.config.sigma_max:.3g} down to {run.config.sigma:.3g} chosen from the data "
                 "(ladder.json)")
    elif ladder:
        sigma = (f", {run.config.n_sigmas} noise levels from {run.config.sigma_max:.3g} to {run.config.sigma:.3g} "
                 "chosen from the data (ladder.json)")
    print(f"trained {cfg.objective} ({cfg.model}) on {cfg.data}: {result.steps} steps{sigma}, final loss "
          f"{last['loss']:.4g}, {result.seconds:.1f} s -> {out}")
    summary = read_object(out / "summary.json")
    held = summary.get("heldout_loglik")
    if result.best_step is not None:
        why = "stopped: no new best for --patience steps" if result.stop_reason == "patience" else "all steps run"
        what = "loss" if OBJECTIVES[cfg.objective].sde is not None else "Hyvärinen loss"
        line = f"best held-out {what} {result.best_value:.4g} at step {result.best_step} ({why})"
        if held is None:
            print(f"kept the weights of step {result.best_step}: {line}")
        else:
            print(line)
    if held is not None:
        from ..samplers.named import NotNormalisable

        if held["problems"]:
            raise NotNormalisable(held["problems"])
        print(f"kept the weights of step {summary['judged_step']} by the held-out log-likelihood: "
              f"{held['mean']:.4g} ± {held['se']:.2g} nats per point ({held['per_column']:.4g} per column, "
              f"{held['n']} held-out points; log Z {held['log_z']:.4g} ± {held['log_z_se']:.2g})")


def _sample(args: argparse.Namespace) -> None:
    from .._infra.checkpoint import atomic_write
    from ..data.outputs import check_output, save_array, write_columns
    from ..runs.run import load_run
    from ..samplers.named import SAMPLERS, describe

    run = load_run(args.run, device=args.device)
    out = check_output(args.out or str(run.path / "samples.npy"), (".npy", ".csv"))
    if run.images and out.suffix.lower() == ".csv":
        raise ValueError(f"--out {out}: images are written as .npy (n, c, h, w), with a grid of them as .png")
    if args.step_size is not None and not args.step_size > 0:
        raise ValueError(f"--step-size must be > 0, got {args.step_size}")
    n = args.n or (100 if run.images else 1000)
    if not args.quiet and not sys.stderr.isatty() and _rank() == 0:  # a terminal gets a progress bar instead
        print(f"drawing {n} samples ({args.sampler or run.default_sampler()})…", flush=True)
    x, report = run.draw(n, sampler=args.sampler, steps=args.steps, step_size=args.step_size, seed=args.seed,
                         progress=not args.quiet and sys.stderr.isatty())
    if report.get("normalisation_problems"):  # SMC says the model cannot be normalised: nothing is written
        from ..samplers.named import NotNormalisable

        raise NotNormalisable(report["normalisation_problems"])
    if _rank() != 0:  # under torchrun every rank drew its share and holds all samples; rank 0 writes them
        return
    report_path, grid = out.with_suffix(".json"), out.with_suffix(".png")
    if out.suffix.lower() == ".csv":
        write_columns(out, dict(zip(run.columns, x.numpy().T, strict=True)))
    else:
        save_array(out, x.numpy())
    atomic_write(report_path, json.dumps(report, indent=2) + "\n")
    if run.images:
        from ..plot import image_grid

        image_grid(x, title=f"{n} samples, {report['sampler']}", value_range=run.value_range, path=grid)
    print(f"{n} samples ({describe(report)}) -> {out}; diagnostics -> {report_path}"
          + (f"; grid -> {grid}" if run.images else ""))
    for line in report["warnings"]:
        sys.stderr.write(f"scorematch: warning: {line}\n")
    if not SAMPLERS[report["sampler"]].judged:  # a sampler that cannot say whether it converged says why
        sys.stderr.write(f"scorematch: note: {report['notes'][0]}\n")


def _eval(args: argparse.Namespace) -> None:
    import torch

    from ..data import csv_header, load_array, match_columns
    from ..data.outputs import check_output, save_array, write_columns
    from ..runs.run import load_run

    out = check_output(args.out, (".npz", ".csv"))
    run = load_run(args.run, device=args.device)
    if out.suffix.lower() == ".csv" and run.images:
        raise ValueError(f"--out {out}: scores of images are written as .npz (score: (n, c, h, w))")
    header = csv_header(args.points) if args.points.lower().endswith(".csv") and run.names else None
    columns = match_columns(run.names, header) if header else None  # the run's columns, by name (any case)
    points = load_array(args.points, columns=columns, dtype=torch.float64, min_rows=1)
    arrays, summary = run.evaluate(points, log_prob=args.log_prob, n_particles=args.particles, seed=args.seed,
                                   scores=args.scores)
    if out.suffix.lower() == ".csv":  # one column per number at each point; log Z and its error are printed
        write_columns(out, {**{f"score_{n}": v for n, v in zip(run.columns, arrays["score"].T, strict=True)},
                            **{k: v for k, v in arrays.items() if k != "score" and v.ndim == 1}})
    else:
        save_array(out, arrays)
    print(f"{', '.join(k for k in arrays if not k.startswith('log_z'))} at {points.shape[0]} points -> {out}"
          + summary)


def _plot(args: argparse.Namespace) -> None:
    from ..report import plot_run
    from ..runs.run import load_run

    run = load_run(args.run)
    out = Path(args.out) if args.out else run.path / "plots"
    for path in plot_run(run, out, n_samples=args.n, steps=args.steps, sampler=args.sampler, log=args.log,
                         progress=not args.quiet):
        print(path)


def _table(args: argparse.Namespace, command: str) -> tuple[Any, list[str] | None, Path]:
    """The table ``(n, d)`` a ``graph`` or ``ica`` command reads (float64 NumPy), its column names, and its
    ``--out``, which must be new or an empty folder."""
    import torch

    from ..data import load_table

    x, names = load_table(args.data, key=getattr(args, "key", None), columns=getattr(args, "columns", None),
                          delimiter=getattr(args, "delimiter", None), dtype=torch.float64)
    if x.ndim != 2:
        raise ValueError(f"{args.data}: {command} needs a table (n, d), got shape {tuple(x.shape)}")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out {out} exists and is not an empty folder: choose a new one")
    return x.numpy(), names, out


def _graph(args: argparse.Namespace) -> None:
    from ..report.graphs import graph_report

    x, names, out = _table(args, "graph")
    if args.gamma is not None and (args.criterion != "ebic" or args.lam is not None):
        raise ValueError("--gamma is the extended BIC's: give it with --criterion ebic (and no --lambda)")
    summary = graph_report(x, names, out, model=args.model, lam=args.lam, criterion=args.criterion,
                           gamma=0.5 if args.gamma is None else args.gamma, n_lambdas=args.n_lambdas,
                           seed=args.seed)
    print(f"{summary['edges']} edges of {summary['pairs']} pairs at λ = {summary['lambda']:.4g} "
          f"({summary['criterion']}) -> {out}/edges.csv, graph.png, path.png")
    if summary["strongest"]:
        print("strongest (partial correlation): " + ", ".join(f"{a}–{b} {r:+.2f}" for a, b, r in summary["strongest"][:5]))


def _ica(args: argparse.Namespace) -> None:
    from ..report.ica_report import ica_report

    x, names, out = _table(args, "ica")
    summary = ica_report(x, names, out, source=args.source)
    shares = ", ".join(f"{v:.0%}" for v in summary["variance_share"][:6])
    print(f"{summary['d']} sources ({summary['source']}) from {summary['n']} rows; shares of the variance: {shares} "
          f"-> {out}/unmixing.csv, mixing.csv, sources.csv, sources.png")


def _compare(args: argparse.Namespace, *, demo: bool = False) -> None:
    from ..report import compare
    from ..runs.registry import ESTIMATORS, OBJECTIVES

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
        from ..data import BUILTIN
        from ..runs.registry import SETTINGS

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
    warnings.showwarning = _one_line_warning  # from the first moment: parsing and imports warn in one line too
    try:
        args = _build_parser().parse_args(argv)
        from .._infra.tuning import tune_cpu_allocator
        from ..samplers.named import NotNormalisable
        from ..training.fit import TrainingDiverged

        tune_cpu_allocator()  # this process only: small CPU temporaries are recycled instead of mmap'd (tuning.py)
        commands = {"train": _train, "sample": _sample, "eval": _eval, "plot": _plot, "compare": _compare,
                    "demo": lambda a: _compare(a, demo=True), "graph": _graph, "ica": _ica,
                    "sbi": sbi_command}
        if args.command in ("train", "sample", "eval"):  # train and sample join a torchrun's process group
            from .._infra.distributed import start_from_environment

            args.device = start_from_environment(args.device, join=args.command != "eval")
            if args.command == "eval" and int(os.environ.get("RANK", "0") or 0) > 0:
                # eval runs in one process: under a launcher the other ranks would write the same file again
                sys.stderr.write(f"scorematch: eval runs on rank 0 only; rank {os.environ['RANK']} has nothing to do\n")
                return 0
        ok = False
        try:
            if args.command in ("sample", "eval", "plot") and Path(args.run).is_dir():
                from ..runs.lock import run_lock

                with run_lock(args.run, shared=True):  # never read a run while it is being written
                    commands[args.command](args)
            else:
                commands[args.command](args)
            ok = True
        except TrainingDiverged as e:
            sys.stderr.write(f"scorematch: training stopped: {e}\n")
            return 3
        except NotNormalisable as e:
            sys.stderr.write(f"scorematch: the model cannot be normalised: {e}; no log-likelihood or log Z is "
                             "reported for it\n")
            return 3
        finally:
            from .._infra.distributed import stop

            stop(ok)  # under torchrun a failed process leaves at once: its exit ends the job
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
