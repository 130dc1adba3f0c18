"""The command line's parser (:func:`build_parser`), its option types and the options built from the table of
names: one-line messages for bad values (argparse turns them into exit code 2)."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

__all__ = ["add_config_options", "add_file_options", "add_settings", "build_parser", "choices_help", "count_or_zero",
           "fraction", "names", "number", "off_or", "positive_int"]

from ..runs.argtypes import count_or_zero, default_text, device, fraction, number, off_or, parser_for, positive_int, seed


def choices_help(entries: list[Any]) -> str:
    return "; ".join(f"{e.name}: {e.help}" for e in entries)


def names(text: str) -> tuple[str, ...]:
    """Comma-separated column names or numbers."""
    out = tuple(c.strip() for c in text.split(",") if c.strip())
    if not out:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names or numbers, got {text!r}")
    return out


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One option per entry of :data:`scorematch.runs.registry.SETTINGS` (``--fd-step``), left out unless given."""
    from ..runs.registry import SETTINGS

    for setting in SETTINGS.entries():
        parser.add_argument("--" + setting.name.replace("_", "-"), type=parser_for(setting.type),
                            default=argparse.SUPPRESS, metavar=setting.name.upper(),
                            help=f"{setting.help} (default: {default_text(setting.default)})")


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of :class:`~scorematch.runs.config.TrainConfig` declared with a help text (``--batch-size``),
    its parser, metavar, choices and default as declared, left out unless given."""
    from dataclasses import fields

    from ..runs.config import TrainConfig

    for f in fields(TrainConfig):
        meta = f.metadata
        if not meta.get("help"):
            continue
        shown = meta["default_text"] or default_text(f.default)
        kwargs = {"choices": meta["choices"]} if meta["choices"] else {"type": meta["parse"], "metavar": meta["metavar"]}
        parser.add_argument("--" + f.name.replace("_", "-"), default=argparse.SUPPRESS,
                            help=f"{meta['help']} (default: {shown})", **kwargs)


def add_file_options(parser: argparse.ArgumentParser) -> None:
    """``--columns``, ``--delimiter`` and ``--key``: how a data file is read (kept in the run's settings)."""
    parser.add_argument("--columns", type=names, default=argparse.SUPPRESS, metavar="A,B",
                        help="the file's columns to use: header names (any case), numbers from 1 or ranges 2-5; "
                             "!A or -A leaves A out, e.g. --columns=-class (default: all but index-like columns: "
                             "row names, row numbers, dates, times)")
    parser.add_argument("--delimiter", default=argparse.SUPPRESS, metavar="C",
                        help="a CSV file's delimiter (default: detected)")
    parser.add_argument("--key", default=argparse.SUPPRESS, metavar="NAME",
                        help="the array of an .npz file that holds several")


EXAMPLES = """examples:
  scorematch demo                                        every score-matching objective on 8gaussians; report in demo/
  scorematch train moons --objective dsm --out runs/moons
  scorematch sample runs/moons --n 2000 --out samples.npy
  scorematch eval runs/moons --points x.npy --out scores.npz
  scorematch plot runs/moons
  scorematch compare rings --objectives esm,ssm,dsm,ncsn --out cmp/
  scorematch train digits --objective ncsn --out runs/digits   handwritten digits, a conv score net
  scorematch sample runs/digits                          100 digits -> runs/digits/samples.npy and samples.png
  scorematch graph returns.csv --out graph/               which columns depend on which: edges.csv, graph.png
  scorematch ica signals.csv --out ica/                   independent components: unmixing.csv, sources.png
  scorematch sbi two_moons --out sbi/                     a simulator's posterior: posterior.csv, pairplot.png
"""




class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``scorematch`` command line: every command, its options and help, built from the tables of names."""
    from ..data import BUILTIN, FILE_TYPES
    from ..runs.registry import ESTIMATORS, MODELS, OBJECTIVES, SAMPLERS

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
    add_config_options(t)  # the shared settings, from their declarations in TrainConfig
    add_settings(t)  # the objectives' own settings, from the table
    t.add_argument("--device", type=device, default="cpu", help="where to train: cpu (default), cuda, cuda:N; under "
                   "torchrun, cuda means each process's own GPU (LOCAL_RANK)")
    add_file_options(t)
    t.add_argument("--config", metavar="FILE.toml", help="settings from a TOML (or JSON) file; options given here win")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint "
                   "(its saved settings are used; --steps may raise the total)")
    t.add_argument("--allow-data-change", action="store_true", help="with --resume: continue although the data "
                   "changed since the run began (its fingerprint in data_stats.json), with the run's standardization")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("sample", help="draw samples from a trained run, and say whether they can be trusted",
                       description="Draw samples from a run's model, in the units of the original data, and write "
                                   "beside them (SAMPLES.json) whether the sampler converged: acceptance rate, split "
                                   "R̂ and effective sample size over the chains, for SMC the ESS of its weights and "
                                   "log Z. The default sampler suits the model: the reverse SDE from the prior "
                                   "down for diffusion runs, sequential Monte Carlo for energies (the right weights "
                                   "between modes), annealed Langevin for ncsn score models, Langevin for other score "
                                   "models. Step sizes are adapted unless --step-size is "
                                   "given.")
    s.add_argument("run", metavar="RUN")
    s.add_argument("--n", "--n-samples", dest="n", type=positive_int, metavar="N",
                   help="number of samples (default: 1000; images: 100); under torchrun write --n-samples, which its "
                        "own options do not shadow")
    s.add_argument("--out", metavar="SAMPLES.npy",
                   help="where to write the samples (default: RUN/samples.npy): (n, d) as .npy, or .csv with the data's "
                        "column names; images (n, c, h, w) as .npy, with a grid of them beside it (SAMPLES.png)")
    s.add_argument("--sampler", choices=SAMPLERS.names(), help=choices_help(SAMPLERS.entries()))
    s.add_argument("--steps", type=positive_int, metavar="N",
                   help="smc: MALA moves per temperature (default 10); pt, mala, langevin, annealed: steps after "
                        "warm-up (default 1000, warm-up steps/2; annealed: shared by the levels); hmc: 200; pc, sde, "
                        "ddpm: the time grid's (500, 1000, 1000); ode: its solver chooses")
    s.add_argument("--step-size", type=number, metavar="EPS", help="fix the step ε instead of adapting it "
                   "(standardized units; annealed: ε at the smallest σ, in units of σ_L²)")
    s.add_argument("--seed", type=seed, default=0)
    s.add_argument("--device", type=device, default="cpu", help="where the chains run: cpu (default), cuda, cuda:N")
    s.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("eval", help="score, energy and log-density of a run at given points",
                       description="Write score (n, d) and, for energy models, energy (n,) at the points, in the "
                                   "units of the original data (standardization undone exactly). For ncsn runs "
                                   "the score is the one at the smallest σ. With --log-prob, also the normalised "
                                   "log p(x) = -energy - log Z, log Z by sequential Monte Carlo, with its standard "
                                   "error (log_z, log_z_se; every log p shares that error), and the mean log p per "
                                   "point with its standard error. A model SMC cannot normalise (its mass far from "
                                   "the data, or groups that disagree on log Z) gets no number: exit code 3. For a "
                                   "diffusion run, log p at t_min by the probability-flow ODE (exact divergence up "
                                   "to 64 numbers per point, else Hutchinson's estimate with its error).")
    e.add_argument("run", metavar="RUN")
    e.add_argument("--points", required=True, metavar="X.npy", help=".npy/.npz/.csv of shape (n, d), or images "
                   "(n, c, h, w) in a .npy/.npz for an image run")
    e.add_argument("--out", required=True, metavar="OUT.npz", help=".npz of arrays, or .csv of columns (score_<name>, "
                   "energy, log_prob…)")
    e.add_argument("--log-prob", action="store_true", help="also write log p(x): energy models by SMC's log Z, "
                   "diffusion runs by the probability-flow ODE")
    e.add_argument("--scores", action="store_true", help="also write an anomaly score per point, 'anomaly': -log p "
                   "with --log-prob, else the energy (higher is more anomalous; for ROC analysis)")
    e.add_argument("--particles", type=positive_int, default=4096, metavar="N",
                   help="SMC particles for log Z (default: 4096; the standard error falls as 1/sqrt(N))")
    e.add_argument("--seed", type=seed, default=0)
    e.add_argument("--device", type=device, default="cpu", help="where the model runs: cpu (default), cuda, cuda:N")

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
    c.add_argument("--steps", type=positive_int, metavar="N", help="steps per objective (default: each its own, as "
                   "train: 4000 with early stopping; diffusion and ncsn on tables 30000)")
    c.add_argument("--model", choices=MODELS.names(),
                   help="the model of every method (default: energy; images: conv, energy where a method needs one)")
    c.add_argument("--seed", type=seed, default=0)
    c.add_argument("--quiet", action="store_true", help="no progress lines")
    c.add_argument("--log", action="store_true", help="draw log-densities (tails and spurious modes show)")
    c.add_argument("--sample-steps", type=positive_int, metavar="N",
                   help="steps of every method's sampler (default: each sampler's own, see sample --help)")
    c.add_argument("--eval-seconds", type=number, default=1.0, metavar="S",
                   help="measure each method's held-out quality every S seconds of training (default: 1)")
    add_settings(c)  # shared by every method that reads them
    add_file_options(c)

    from ..classical.ggm import CRITERIA
    from ..classical.ica import SOURCES
    from ..runs.registry import GRAPH_MODELS

    gr = sub.add_parser("graph", help="a graphical model of a table's columns by penalised score matching",
                        description="Estimate which columns of DATA depend on which given all the others: a sparse "
                                    "precision matrix by score matching with an L1 penalty, its whole path over λ, and "
                                    "λ chosen by held-out score-matching loss or the extended BIC (or --lambda). "
                                    "Writes edges.csv (each edge's partial correlation), graph.json, path.png and "
                                    "graph.png into --out.")
    gr.add_argument("data", metavar="DATA", help=".csv/.npy/.npz table (n, p)")
    gr.add_argument("--out", required=True, metavar="DIR")
    gr.add_argument("--model", choices=GRAPH_MODELS.names(), default="gaussian", help=choices_help(GRAPH_MODELS.entries()))
    gr.add_argument("--lambda", dest="lam", type=number, metavar="L",
                    help="the L1 penalty (in units of the scaled data); default: chosen by --criterion")
    gr.add_argument("--criterion", choices=CRITERIA, default="cv",
                    help="how λ is chosen: cv, the least 5-fold held-out score-matching loss (default); ebic, the "
                         "extended BIC with the score-matching loss, on the path of all rows (sparser for γ > 0)")
    gr.add_argument("--gamma", type=number, default=None, metavar="G",
                    help="the extended BIC's γ, with --criterion ebic (0 is BIC; default: 0.5)")
    gr.add_argument("--n-lambdas", type=positive_int, default=50, metavar="N", help="values on the path (default: 50)")
    gr.add_argument("--seed", type=seed, default=0, help="seed of the cross-validation folds")
    add_file_options(gr)

    ic = sub.add_parser("ica", help="independent components of a table's columns by score matching",
                        description="Estimate x = A s with independent, non-Gaussian sources s by minimising "
                                    "Hyvärinen's score-matching objective of the ICA model (no normaliser: the "
                                    "log-determinant maximum likelihood needs never appears). Writes unmixing.csv "
                                    "(W), mixing.csv (A), sources.csv, ica.json and sources.png into --out.")
    ic.add_argument("data", metavar="DATA", help=".csv/.npy/.npz table (n, d)")
    ic.add_argument("--out", required=True, metavar="DIR")
    ic.add_argument("--source", choices=tuple(SOURCES), default="logistic",
                    help="the sources' density: logistic (default), or cosh, 1/(π cosh u), heavier-tailed")
    add_file_options(ic)

    from ..report.sbi_report import SBI_METHODS
    from ..sbi import TASKS

    sb = sub.add_parser("sbi", help="a simulator's posterior or maximum likelihood by score matching",
                        description="Simulation-based inference: from a simulator x ~ p(x | θ) and a prior, the "
                                    "posterior of θ given observed data (fsm: amortised Fisher score matching of "
                                    "∇_θ log p(x | θ), iid observations adding their scores; npse: a diffusion "
                                    "model of θ given x, iid observations composed), or the maximum likelihood "
                                    "with standard errors (fsm-local). Writes simulations.npz, posterior.csv (or "
                                    "mle.csv), pairplot.png, report.json and report.md into --out.")
    sb.add_argument("task", metavar="TASK_OR_FILE",
                    help=f"a built-in task ({', '.join(TASKS)}) or a .py file defining `prior` (a "
                         "torch.distributions object) and `simulator(theta, generator) -> x`, optionally "
                         "`parameter_names`; the file is Python code and runs as such")
    sb.add_argument("--out", required=True, metavar="DIR")
    sb.add_argument("--method", choices=SBI_METHODS,
                    help="npse: neural posterior score estimation, iid observations composed for box-uniform and "
                         "Gaussian priors; fsm: amortised Fisher score matching, posterior by SMC, iid observations "
                         "adding their scores for any prior; fsm-local: the maximum likelihood by Fisher scoring "
                         "with a local score, with standard errors (default: npse; fsm for several observations "
                         "under another prior)")
    sb.add_argument("--simulations", type=positive_int, default=10000, metavar="N",
                    help="simulation budget (default: 10000)")
    sb.add_argument("--simulations-from", metavar="FILE",
                    help="reuse the simulations.npz of an earlier run (same method) instead of simulating")
    sb.add_argument("--observation", metavar="FILE",
                    help="the observed data: .npy/.csv of one row (d numbers) or of several iid rows (k, d); for "
                         "a built-in task the default is its observation 1")
    sb.add_argument("--observation-number", type=positive_int, metavar="J",
                    help="a built-in task's fixed observation J (1-10), whose true θ and reference are known")
    sb.add_argument("--steps", type=positive_int, metavar="N",
                    help="training steps at most (default: 4000 for fsm, 30000 for npse; early stopping on held-out "
                         "simulations ends them sooner)")
    sb.add_argument("--samples", type=positive_int, default=2000, metavar="N",
                    help="posterior draws to write (default: 2000)")
    sb.add_argument("--calibration", type=count_or_zero, default=50, metavar="N",
                    help="simulation-based calibration draws for the report, 0 for none (default: 50)")
    sb.add_argument("--seed", type=seed, default=0)
    sb.add_argument("--quiet", action="store_true", help="no progress lines")

    d = sub.add_parser("demo", help="compare every score-matching objective on 8gaussians (about a minute)",
                       description="compare on the built-in 8gaussians set, whose exact score is known.")
    d.add_argument("--out", default="demo", metavar="DIR", help="report folder (default: demo)")
    return root
