"""The command line's parser (:func:`build_parser`), its option types and the options built from the table of
names: one-line messages for bad values (argparse turns them into exit code 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["add_file_options", "add_settings", "build_parser", "choices_help", "count_or_zero", "fraction", "names",
           "number", "off_or", "positive_int"]


def integer_from(low: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = integer_from(1, "a positive integer")
count_or_zero = integer_from(0, "an integer >= 0")


def seed(text: str) -> int:
    """A seed: an integer from 0 to 2⁶³ − 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2^63 - 1, got {text}")
    return value


def device(text: str) -> str:
    """A torch device name: cpu, cuda, cuda:N, mps, …"""
    import torch

    try:
        return str(torch.device(text))
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"not a torch device: {text!r} (cpu, cuda, cuda:N)") from None


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def sigma(text: str) -> float | str:
    return "auto" if text == "auto" else number(text)


def fraction(text: str) -> float | None:
    value = number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value or None  # 0: nothing held out


def off_or(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse``, or ``None`` for ``off`` / ``none``."""
    def read(text: str) -> Any:
        return None if text.lower() in ("off", "none") else parse(text)

    return read


SETTING_TYPES: dict[str, Callable[[str], Any]] = {"int": positive_int, "float": number, "float | str": sigma,
                                                   "float | None": off_or(number), "str": str}


def default_text(value: Any) -> str:
    return "off" if value is None else format(value, "g") if isinstance(value, (int, float)) else str(value)


def choices_help(entries: list[Any]) -> str:
    return "; ".join(f"{e.name}: {e.help}" for e in entries)


def names(text: str) -> tuple[str, ...]:
    """Comma-separated column names or numbers."""
    out = tuple(c.strip() for c in text.split(",") if c.strip())
    if not out:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names or numbers, got {text!r}")
    return out


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One option per entry of :data:`scorematch.registry.SETTINGS` (``--fd-step``), left out unless given."""
    from .registry import SETTINGS

    for setting in SETTINGS.entries():
        parser.add_argument("--" + setting.name.replace("_", "-"), type=SETTING_TYPES[setting.type],
                            default=argparse.SUPPRESS, metavar=setting.name.upper(),
                            help=f"{setting.help} (default: {default_text(setting.default)})")


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
"""




class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``scorematch`` command line: every command, its options and help, built from the tables of names."""
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
    t.add_argument("--seed", type=seed, default=S, metavar="S", help="seed of data, weights and noise (default: 0)")
    t.add_argument("--device", type=device, default="cpu", help="where to train: cpu (default), cuda, cuda:N; under "
                   "torchrun, cuda means each process's own GPU (LOCAL_RANK)")
    add_file_options(t)
    t.add_argument("--standardize", choices=("whiten", "column", "channel", "global", "off"), default=S,
                   help="the scale the model learns in: whiten, per column then decorrelated, z = W(x - mean)/std with "
                        "identity covariance (the default for a file's table: correlated columns cost a network "
                        "nothing); column, z = (x - mean)/std (the built-in 2-D sets' default); per channel pooled "
                        "over the pixels (images' default); one mean and std for all; or off")
    t.add_argument("--judge", choices=("loglik", "off"), default=S,
                   help="energy models on tables: loglik, the held-out log-likelihood (log Z by SMC) judges the weights "
                        "at the end and at a quarter, half and three quarters of training and keeps the best that can "
                        "be normalised, written to summary.json (the default); off: the held-out Hyvärinen loss alone")
    t.add_argument("--ties", choices=("spread", "off"), default=S,
                   help="repeated values in a table (a return of exactly 0, measurements to one decimal): spread, "
                        "each moved within its resolution and an atom spread to the local density, so that exact "
                        "score matching cannot reward a spike there (the default); off: kept as they are")
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
                                   "log Z. The default sampler suits the model: sequential Monte Carlo for energies "
                                   "(the right weights between modes), annealed Langevin for ncsn score models, "
                                   "Langevin for other score models. Step sizes are adapted unless --step-size is "
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
                        "warm-up (default 1000, warm-up steps/2; annealed: shared by the levels); hmc: 200")
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
                                   "the data, or groups that disagree on log Z) gets no number: exit code 3.")
    e.add_argument("run", metavar="RUN")
    e.add_argument("--points", required=True, metavar="X.npy", help=".npy/.npz/.csv of shape (n, d), or images "
                   "(n, c, h, w) in a .npy/.npz for an image run")
    e.add_argument("--out", required=True, metavar="OUT.npz", help=".npz of arrays, or .csv of columns (score_<name>, "
                   "energy, log_prob…)")
    e.add_argument("--log-prob", action="store_true", help="also write log p(x) (energy models)")
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
    c.add_argument("--steps", type=positive_int, default=2000, metavar="N", help="steps per objective (default: 2000)")
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

    from .ggm import CRITERIA
    from .ica import SOURCES
    from .registry import GRAPH_MODELS

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

    d = sub.add_parser("demo", help="compare every score-matching objective on 8gaussians (about a minute)",
                       description="compare on the built-in 8gaussians set, whose exact score is known.")
    d.add_argument("--out", default="demo", metavar="DIR", help="report folder (default: demo)")
    return root
