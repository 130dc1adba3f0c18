"""Run folders: their layout, loading a finished one, and using it in the units of the original data.

A run folder holds::

    config.json          every setting (a TrainConfig), enough to reproduce the run
    data_stats.json      the standardization (mean, std per column), the data's event shape and column names
    model.safetensors    the weights kept: the best by the held-out criterion (else the EMA); atomic
    metrics.jsonl        one line per logged step: step, loss, seconds; held-out val_hyvarinen, val_loss
    summary.json         steps done, why training stopped, the best step and its held-out criterion, overfitting
    sigma_search.json    with sigma "auto": the σ values tried and their held-out criterion
    ladder.json          a σ ladder chosen from the data: σ₁, σ_L, L, the sampler's step, and why each
    checkpoint/          weights, optimizer, RNG state, step, best weights (see scorematch._infra.checkpoint)

Models are trained on standardized data ``z = (x − m)/s``; everything read out of a run is mapped back: scores by
``1/s``, energies by ``+Σ log s`` (``−log p`` in data units), samples by ``x = m + s·z``.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import Tensor

from .._infra.checks import check_memory
from ..data import Standardizer
from ..fields import Energy, Score
from ..protocol import ScoreModel, device_of, in_data_units
from ..samplers.named import NotNormalisable, draw, slow_note
from ..training.judge import mean_and_error, normalise
from .config import TrainConfig
from .registry import MODELS, OBJECTIVES, SAMPLERS, at_smallest_sigma, build_model

__all__ = ["Run", "RunError", "architecture_header", "column_names", "load_run", "read_metrics", "read_object"]


class RunError(ValueError):
    """A run folder that cannot be used as asked (missing, incomplete, wrong shape)."""


@dataclass
class Run:
    """A trained run: its folder, settings, standardization, model (in standardized units) and the data's column
    names (``x1 … xd`` when the data had none; images have none)."""

    path: Path
    config: TrainConfig
    stats: Standardizer
    model: Energy | Score
    names: list[str] | None = None

    @property
    def columns(self) -> list[str]:
        """The data's column names: the file's header, else ``x1 … xd``."""
        return list(self.names) if self.names else [f"x{j + 1}" for j in range(self.dim)]

    @property
    def dim(self) -> int:
        """Coordinates of one sample (``d``; ``c·h·w`` for images)."""
        return self.stats.dim

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of one sample: ``(d,)``, or ``(c, h, w)`` for images."""
        return self.stats.event_shape

    @property
    def value_range(self) -> tuple[float, float] | None:
        """The smallest and largest value of the training data (images; ``None`` for tables and older runs), the
        grey scale of image grids."""
        return _range_of(read_object(self.path / "data_stats.json"))

    @property
    def images(self) -> bool:
        """Whether the run's samples are images ``(c, h, w)``."""
        return len(self.event_shape) == 3

    def _check_points(self, x: Tensor, what: str) -> Tensor:
        if tuple(x.shape[1:]) != self.event_shape or x.ndim < 2:
            want = ", ".join(map(str, ("n", *self.event_shape)))
            raise RunError(f"{what} must have shape ({want}) to match the run {self.path}; got {tuple(x.shape)}")
        return x

    @property
    def view(self) -> ScoreModel:
        """The run's model in data units (:func:`~scorematch.protocol.in_data_units`: standardized in float64,
        evaluated in float32, float64 out), an energy model for energy runs; for ``ncsn`` runs at the smallest σ.
        Anything that takes a model (plots, metrics, samplers) takes it."""
        return in_data_units(at_smallest_sigma(self.model, self.config), self.stats, device=device_of(self.model))

    def score(self, x: Tensor) -> Tensor:
        """∇ₓ log p(x) in data units, ``(n, d)``; for ``ncsn`` runs at the smallest σ."""
        return self.view.score(self._check_points(x, "points"))

    def energy(self, x: Tensor) -> Tensor:
        """−log p̃(x) in data units (unnormalised), ``(n,)``; energy models only."""
        if not isinstance(self.model, Energy):
            raise RunError(f"{self.path} holds a score model: it has no energy")
        return self.view.energy(self._check_points(x, "points"))

    @property
    def learned_log_z(self) -> float | None:
        """The log-normalizer learned with the weights (runs of an objective that learns one, e.g. ``nce``), so that
        ``log p(x) = −energy(x) − learned_log_z`` in data units (the energies carry the standardization's Jacobian,
        so log Z is the same number in both units); ``None`` for other runs."""
        log_z = getattr(self.model, "log_z", None)
        return None if log_z is None else float(log_z.detach())

    def log_z(self, *, n_particles: int = 4096, seed: int = 0, progress: bool = False) -> tuple[float, float]:
        """``(log Z, its standard error)`` of :meth:`energy` by sequential Monte Carlo (the ``smc`` sampler: 16
        independent groups, base N(0, 2²I) in standardized units); energy models only. The energies carry the
        standardization's Jacobian, so this normalises them in data units.

        Raises:
            NotNormalisable: SMC's report says the model cannot be normalised (its mass far from the data, or
                groups that disagree: :func:`scorematch.samplers.named.normalisation_problems`).
        """
        return self.normalise(n_particles=n_particles, seed=seed, progress=progress)[:2]

    def normalise(self, *, n_particles: int = 4096, seed: int = 0, progress: bool = False
                  ) -> tuple[float, float, dict[str, Any]]:
        """``(log Z, se, report)``: :meth:`log_z` with the SMC draw's report (:func:`scorematch.samplers.named.draw`)."""
        if not isinstance(self.model, Energy):
            raise RunError(f"{self.path} holds a score model: log p needs an energy model (train with --model energy)")
        log_z, se, report, problems = normalise(at_smallest_sigma(self.model, self.config), self.event_shape,
                                                n_particles=n_particles, seed=seed, progress=progress,
                                                device=device_of(self.model) or torch.device("cpu"))
        if problems:
            raise NotNormalisable(problems)
        return log_z, se, report

    def log_prob(self, x: Tensor, *, n_particles: int = 4096, seed: int = 0) -> tuple[Tensor, float, float]:
        """``(log p(x), log Z, se)``: the normalised log-density in data units, ``(n,)``, with log Z from
        :meth:`log_z`; every value shares log Z's standard error ``se``."""
        energy = self.energy(x)
        log_z, se = self.log_z(n_particles=n_particles, seed=seed)
        return -energy - log_z, log_z, se

    def evaluate(self, points: Tensor, *, log_prob: bool = False, n_particles: int = 4096, seed: int = 0,
                 scores: bool = False) -> tuple[dict[str, np.ndarray], str]:
        r"""What ``scorematch eval`` writes at ``points`` (data units): ``score`` ``(n, d)``; for energy runs
        ``energy``; for runs that learned log Z, ``log_prob_learned`` and ``log_z_learned``; with ``log_prob``,
        ``log_prob`` with ``log_z`` and ``log_z_se`` by SMC; with ``scores``, ``anomaly`` — −log p with
        ``log_prob``, else the energy (the same order: higher is more anomalous), ready for ROC analysis. Also
        lines summing up: log Z, and with ``log_prob`` the mean log p per point with its standard error,
        :math:`\sqrt{\operatorname{var}_i \log p(x_i)/n + \operatorname{se}(\log Z)^2}`, and per column.

        Raises:
            NotNormalisable: with ``log_prob``, when the model cannot be normalised (no number is given for it).
        """
        diffusion = OBJECTIVES[self.config.objective].sde is not None
        if (log_prob or scores) and diffusion:
            return self._ode_evaluate(points, log_prob=log_prob, seed=seed, scores=scores)
        if (log_prob or scores) and not isinstance(self.model, Energy):
            flag, what = ("--log-prob", "log p") if log_prob else ("--scores", "an anomaly score")
            raise RunError(f"{flag}: {self.path} holds a score model; {what} needs an energy model")
        arrays = {"score": self.score(points).numpy()}
        summary = ""
        if isinstance(self.model, Energy):
            arrays["energy"] = self.energy(points).numpy()
        if self.learned_log_z is not None:  # a run that learned its log-normalizer (nce): log p with no sampling
            arrays.update(log_prob_learned=-arrays["energy"] - self.learned_log_z,
                          log_z_learned=np.float64(self.learned_log_z))
            summary = f"; learned log Z {self.learned_log_z:.4f}"
        if log_prob:
            t0 = time.perf_counter()
            log_z, se, report = self.normalise(n_particles=n_particles, seed=seed)
            log_p = -arrays["energy"] - log_z
            arrays.update(log_prob=log_p, log_z=np.float64(log_z), log_z_se=np.float64(se))
            mean, mean_se = mean_and_error(torch.from_numpy(log_p), se)
            summary += (f"; log Z {log_z:.4f} ± {se:.4f} (SMC, {n_particles} particles, "
                        f"{report['smc']['n_temperatures']} temperatures{slow_note(report)}, "
                        f"{time.perf_counter() - t0:.1f} s)\nmean log p {mean:.4f} ± {mean_se:.4f} nats "
                        f"per point ({mean / self.dim:.4f} per column) over {len(log_p)} points")
        if scores:
            arrays["anomaly"] = -arrays["log_prob"] if log_prob else arrays["energy"]
        bad = ~np.isfinite(arrays["score"].reshape(len(points), -1)).all(1)
        if "energy" in arrays:
            bad |= ~np.isfinite(arrays["energy"])
        if bad.any():  # flagged, never passed off as numbers: e.g. points beyond the float32 range of the model
            first = int(np.flatnonzero(bad)[0])
            warnings.warn(f"{int(bad.sum())} of {len(points)} points give a non-finite score or energy (the first is "
                          f"point {first + 1}, largest |x| {float(points[first].abs().max()):.3g}): the model is "
                          "evaluated in float32 on standardized points", stacklevel=2)
        return {k: np.asarray(v) for k, v in arrays.items()}, summary

    def _ode_evaluate(self, points: Tensor, *, log_prob: bool, seed: int, scores: bool
                      ) -> tuple[dict[str, np.ndarray], str]:
        """:meth:`evaluate` of a diffusion run: log p at t_min by the probability-flow ODE
        (:func:`scorematch.diffusion.log_likelihood`; exact divergence up to 64 numbers per point, else Hutchinson
        with 8 probes and a standard error per point), in data units."""
        from ..diffusion.likelihood import beyond_prior, log_likelihood, sigma_conditioned

        view = at_smallest_sigma(self.model, self.config)
        model_score = sigma_conditioned(view.unbound, view.sde)
        dtype = next(self.model.parameters()).dtype

        def score(x: Tensor, t: Tensor) -> Tensor:  # the ODE runs in float64, the network in its own dtype
            return model_score(x.to(dtype), t.to(dtype)).to(x.dtype)

        t0 = time.perf_counter()
        z = self.stats.transform(points.double()).to(device_of(self.model))
        exact = self.dim <= 64
        out = log_likelihood(score, z, view.sde, t0=self.config.t_min, divergence="exact" if exact else "hutchinson",
                             n_probes=8, rtol=1e-5, atol=1e-5, generator=torch.Generator().manual_seed(seed))
        log_p = (out.log_prob - self.stats.log_scale).cpu()
        far = beyond_prior(out.x1, view.sde).cpu()
        arrays = {"score": self.score(points).numpy(), "log_prob": log_p.numpy(), "beyond_prior": far.numpy()}
        if not exact:
            arrays["log_prob_se"] = out.se.cpu().numpy()
        if scores:
            arrays["anomaly"] = -arrays["log_prob"]
        mean, mean_se = mean_and_error(log_p, float(out.se.square().mean().sqrt()))
        how = "exact divergence" if exact else "Hutchinson, 8 probes"
        summary = (f"; log p by the probability-flow ODE ({how}, {out.nfe} evaluations, "
                   f"{time.perf_counter() - t0:.1f} s)\nmean log p {mean:.4f} ± {mean_se:.4f} nats per point "
                   f"({mean / self.dim:.4f} per column) over {len(log_p)} points")
        if far.any() and log_prob:
            first = int(far.nonzero()[0])
            summary += (f"\n{int(far.sum())} of {len(log_p)} points were carried by the ODE where the prior has no "
                        f"mass (the first is point {first + 1}: log p {float(log_p[first]):.4g}): the network's score "
                        "far from its data, not a density (`beyond_prior` in the output marks them); the mean over "
                        f"the other points is {float(log_p[~far].mean()) if (~far).any() else math.nan:.4f}")
            warnings.warn(f"{int(far.sum())} of {len(log_p)} points have no honest log p: the probability-flow ODE "
                          "carried them where the prior has no mass (marked `beyond_prior`)", stacklevel=2)
        if not log_prob:
            arrays.pop("log_prob")
            arrays.pop("log_prob_se", None)
            arrays.pop("beyond_prior")
        return {k: np.asarray(v) for k, v in arrays.items()}, summary

    def default_sampler(self) -> str:
        """Euler–Maruyama on the reverse SDE for diffusion runs (from the prior down; it beat predictor–corrector at
        the same 1000 network evaluations on digits, Fréchet 6.1 against 8.3, and on the weights of separated modes,
        ``bench/diffusion_quality.py``), SMC for energy models (the right weights between modes), annealed Langevin
        for ``ncsn`` score models, Langevin for other score models."""
        if OBJECTIVES[self.config.objective].sde is not None:
            return "sde"
        return MODELS[self.config.model].default_sampler(OBJECTIVES[self.config.objective].conditional)

    def draw(self, n: int, *, sampler: str | None = None, steps: int | None = None, step_size: float | None = None,
             seed: int = 0, progress: bool = False) -> tuple[Tensor, dict[str, Any]]:
        """``n`` samples in data units and the draw's report (:func:`scorematch.samplers.named.draw`: step size,
        acceptance, R̂, ESS, SMC's weights and log Z, warnings). ``step_size`` (standardized units) fixes ε;
        by default it is adapted. SMC's log Z normalises :meth:`energy` (data units: the energies carry the
        standardization's Jacobian, so the number is the same in both units)."""
        check_memory(f"{n} samples of {self.dim} numbers", 64.0 * n * self.dim, "ask for fewer samples (--n)")
        sampler = sampler or self.default_sampler()
        chosen = self.path / "ladder.json"
        if SAMPLERS[sampler].needs_ladder and steps is None and step_size is None and chosen.is_file():
            rule = read_object(chosen)  # the step NCSNv2's rule chose for this ladder
            rule.setdefault("steps_per_level", rule.get("n_steps_each"))  # older folders: n_steps_each
            for key in ("steps_per_level", "n_sigmas", "step_size"):
                value = rule.get(key)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf \
                        or (key != "step_size" and not isinstance(value, int)):
                    raise RunError(f"{chosen}: {key} must be a {'number' if key == 'step_size' else 'whole number'} "
                                   f"> 0, got {value!r}")
            steps, step_size = rule["steps_per_level"] * rule["n_sigmas"], rule["step_size"]
        z, report = draw(sampler, at_smallest_sigma(self.model, self.config), n, self.event_shape, steps=steps,
                         step_size=step_size, seed=seed, progress=progress, device=device_of(self.model))
        x = self.stats.inverse(z.double())
        beyond = int((torch.isfinite(z.flatten(1)).all(1) & ~torch.isfinite(x.flatten(1)).all(1)).sum())
        if beyond:  # finite in the model's units, past float64 in the data's (data near 1e308)
            report["beyond_float64"] = beyond
            report["warnings"].append(f"{beyond} of {n} samples lie beyond the range of float64 in the data's units "
                                      "(written as ±inf): the data's scale leaves no room for them")
            report["trusted"] = False
        return x, report

    def sample(self, n: int, *, sampler: str | None = None, steps: int | None = None, step_size: float | None = None,
               seed: int = 0, progress: bool = False) -> Tensor:
        """``n`` samples in data units (see :meth:`draw`, which also returns the report)."""
        return self.draw(n, sampler=sampler, steps=steps, step_size=step_size, seed=seed, progress=progress)[0]


def architecture_header(cfg: TrainConfig, event_shape: tuple[int, ...]) -> dict[str, str]:
    """What defines the network of a run, as the header of ``model.safetensors``: checked on load, so that a
    ``config.json`` edited to another activation or size is refused rather than run with these weights."""
    entry = OBJECTIVES[cfg.objective]
    keys = MODELS[cfg.model].architecture
    return {"architecture": json.dumps({**{k: getattr(cfg, k) for k in keys}, "conditional": entry.conditional,
                                        "learns_log_z": entry.learns_log_z, "event_shape": list(event_shape)},
                                       sort_keys=True)}


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    """A run's ``metrics.jsonl`` (none: ``[]``): one JSON object per line, a whole ``step`` and numbers (or null)
    for the rest; :class:`RunError` naming the file and the line otherwise."""
    path = Path(folder) / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            raise RunError(f"{path}: line {i} is not JSON ({str(e).splitlines()[0]})") from None
        if not isinstance(record, dict) or not isinstance(record.get("step"), int) or isinstance(record["step"], bool):
            raise RunError(f"{path}: line {i} must be a JSON object with a whole number 'step'")
        bad = next((k for k, v in record.items() if v is not None and (isinstance(v, bool)
                                                                      or not isinstance(v, (int, float)))), None)
        if bad is not None:
            raise RunError(f"{path}: line {i}: {bad} must be a number, got {record[bad]!r}")
        records.append(record)
    return records


def read_object(path: Path) -> dict[str, Any]:
    """A run folder's JSON file, which must hold an object; :class:`RunError` with one line naming it otherwise."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{path}: unreadable JSON ({str(e).splitlines()[0]})") from None
    if not isinstance(value, dict):
        raise RunError(f"{path}: must hold a JSON object, got {type(value).__name__}")
    return value


def column_names(stats: dict[str, Any]) -> list[str] | None:
    """The column names of a run folder's ``data_stats.json`` (``None``: none, or a run written before names)."""
    names = stats.get("columns")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise ValueError("data_stats.json: columns must be a list of names")
    return names


def _range_of(stats: dict[str, Any]) -> tuple[float, float] | None:
    """The data's range in a run folder's ``data_stats.json`` (``None``: none, a table, or an older run)."""
    span = stats.get("range")
    if span is None:
        return None
    if not (isinstance(span, list) and len(span) == 2 and all(isinstance(v, (int, float)) for v in span)):
        raise ValueError("data_stats.json: range must be [smallest, largest]")
    return float(span[0]), float(span[1])


def load_run(path: str | Path, device: str | torch.device | None = None) -> Run:
    """Load a finished run folder, its model on ``device`` (default CPU); ``RunError`` with one line if it is not
    one."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such run folder")
    for name in ("config.json", "data_stats.json", "model.safetensors"):
        if not (path / name).is_file():
            raise RunError(f"{path}: not a finished run ({name} is missing)")
    try:
        cfg = TrainConfig.from_dict(read_object(path / "config.json"))
        saved = read_object(path / "data_stats.json")
        stats = Standardizer.from_dict(saved["standardizer"])
        names = column_names(saved)
        _range_of(saved)
    except RunError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise RunError(f"{path}: unreadable run settings ({type(e).__name__}: {str(e).splitlines()[0][:160]})") from None
    model = build_model(cfg, stats.event_shape)
    try:
        model.load_state_dict(load_file(path / "model.safetensors"))
    except Exception as e:  # a truncated file, or weights of another architecture
        raise RunError(f"{path}: model.safetensors is unreadable or does not match config.json "
                       f"({str(e).splitlines()[0][:120]})") from None
    with safe_open(path / "model.safetensors", "pt") as f:
        stored = (f.metadata() or {}).get("architecture")
    expected = architecture_header(cfg, stats.event_shape)["architecture"]
    if stored is not None and stored != expected:
        now = json.loads(expected)
        try:
            then = json.loads(stored)
            diff = next((k for k, v in then.items() if now.get(k) != v), "the network")
        except (ValueError, AttributeError):
            raise RunError(f"{path}: model.safetensors' header holds no readable architecture") from None
        raise RunError(f"{path}: config.json does not describe the network in model.safetensors ({diff}: "
                       f"{now.get(diff)!r} in config.json, {then.get(diff)!r} in the weights)")
    bad = [k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise RunError(f"{path}: model.safetensors holds non-finite weights ({bad[0]}{' …' if len(bad) > 1 else ''}); "
                       "the run cannot be used")
    model.to(device or "cpu").eval()
    return Run(path, cfg, stats, model, names)
