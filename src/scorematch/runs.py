"""Run folders: train one, load one, and use it in the units of the original data.

A run folder holds::

    config.json          every setting (a TrainConfig), enough to reproduce the run
    data_stats.json      the standardization (mean, std per column), the data's event shape and column names
    model.safetensors    the weights kept: the best by the held-out criterion (else the EMA); atomic
    metrics.jsonl        one line per logged step: step, loss, seconds; held-out val_hyvarinen, val_loss
    summary.json         steps done, why training stopped, the best step and its held-out criterion, overfitting
    sigma_search.json    with sigma "auto": the σ values tried and their held-out criterion
    ladder.json          a σ ladder chosen from the data: σ₁, σ_L, L, the sampler's step, and why each
    checkpoint/          weights, optimizer, RNG state, step, best weights (see scorematch.checkpoint)

Models are trained on standardized data ``z = (x − m)/s``; everything read out of a run is mapped back: scores by
``1/s``, energies by ``+Σ log s`` (``−log p`` in data units), samples by ``x = m + s·z``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import Tensor

from ._checks import check_memory
from .checkpoint import atomic_write, latest_step, save_tensors
from .config import TrainConfig
from .curvature import check_objective_fits
from .data import DATASETS, IMAGE_SETS, Standardizer, image_set, load_table, make_dataset
from .data.digits import GREY_CELL
from .data.outputs import save_array
from .fields import Energy, Score
from .metrics import HeldOutCriterion
from .protocol import ScoreModel, in_data_units
from .registry import MODELS, OBJECTIVES, SAMPLERS, at_smallest_sigma, build_model, build_objective, draw_samples
from .schedules import ladder_from_data
from .train import FitResult, TrainingDiverged, fit

__all__ = ["Run", "RunError", "load_run", "prepare_data", "prepare_table", "read_object", "save_array", "split_data",
           "train_run"]


class RunError(ValueError):
    """A run folder that cannot be used as asked (missing, incomplete, wrong shape)."""


def prepare_table(cfg: TrainConfig, n_extra: int = 0) -> tuple[Tensor, list[str] | None]:
    """The run's data in float64, ``(n, d)`` or images ``(n, c, h, w)`` (standardized in float64, then cast for the
    model) and its column names (a file's header; ``None`` otherwise): ``n_data`` (+ ``n_extra``) points of a
    built-in 2-D set drawn with ``seed``, the training split of a built-in image set (dequantized with ``seed``), or
    the whole file (its ``columns``, read with its ``key`` and ``delimiter``)."""
    if cfg.data in IMAGE_SETS:
        return image_set(cfg.data, "train", generator=torch.Generator().manual_seed(cfg.seed), dtype=torch.float64), None
    if cfg.data in DATASETS:
        return make_dataset(cfg.data, cfg.n_data + n_extra, generator=torch.Generator().manual_seed(cfg.seed),
                            dtype=torch.float64), None
    x, names = load_table(cfg.data, key=cfg.key, columns=cfg.columns, delimiter=cfg.delimiter, dtype=torch.float64)
    if x.shape[0] < 2:
        raise RunError(f"{cfg.data}: at least 2 rows are needed to train, got {x.shape[0]}")
    return x, names


def prepare_data(cfg: TrainConfig, n_extra: int = 0) -> Tensor:
    """The array of :func:`prepare_table`."""
    return prepare_table(cfg, n_extra)[0]


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
        return _range(self.path)

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
        return in_data_units(at_smallest_sigma(self.model, self.config), self.stats)

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
        """``(log Z, its standard error)`` of :meth:`energy` by sequential Monte Carlo
        (:func:`scorematch.samplers.smc.smc`, 16 independent groups, base N(0, 2²I) in standardized units); energy
        models only. The energies carry the standardization's Jacobian, so this normalises them in data units."""
        from .samplers.smc import smc
        from .sampling import BASE_STD

        if not isinstance(self.model, Energy):
            raise RunError(f"{self.path} holds a score model: log p needs an energy model (train with --model energy)")
        field = at_smallest_sigma(self.model, self.config)
        out = smc(field, n_particles, self.event_shape, base_std=BASE_STD, generator=torch.Generator().manual_seed(seed),
                  dtype=torch.float32, progress=progress)
        return out.log_z, out.standard_error

    def log_prob(self, x: Tensor, *, n_particles: int = 4096, seed: int = 0) -> tuple[Tensor, float, float]:
        """``(log p(x), log Z, se)``: the normalised log-density in data units, ``(n,)``, with log Z from
        :meth:`log_z`; every value shares log Z's standard error ``se``."""
        energy = self.energy(x)
        log_z, se = self.log_z(n_particles=n_particles, seed=seed)
        return -energy - log_z, log_z, se

    def evaluate(self, points: Tensor, *, log_prob: bool = False, n_particles: int = 4096, seed: int = 0
                 ) -> tuple[dict[str, np.ndarray], str]:
        """What ``scorematch eval`` writes at ``points`` (data units): ``score`` ``(n, d)``; for energy runs
        ``energy``; for runs that learned log Z, ``log_prob_learned`` and ``log_z_learned``; with ``log_prob``,
        ``log_prob`` with ``log_z`` and ``log_z_se`` by SMC. Also a line summing up the log Z values."""
        if log_prob and not isinstance(self.model, Energy):
            raise RunError(f"--log-prob: {self.path} holds a score model; log p needs an energy model")
        arrays = {"score": self.score(points).numpy()}
        summary = ""
        if isinstance(self.model, Energy):
            arrays["energy"] = self.energy(points).numpy()
        if self.learned_log_z is not None:  # a run that learned its log-normalizer (nce): log p with no sampling
            arrays.update(log_prob_learned=-arrays["energy"] - self.learned_log_z,
                          log_z_learned=np.float64(self.learned_log_z))
            summary = f"; learned log Z {self.learned_log_z:.4f}"
        if log_prob:
            log_p, log_z, se = self.log_prob(points, n_particles=n_particles, seed=seed)
            arrays.update(log_prob=log_p.numpy(), log_z=np.float64(log_z), log_z_se=np.float64(se))
            summary += f"; log Z {log_z:.4f} ± {se:.4f} (SMC, {n_particles} particles)"
        bad = ~np.isfinite(arrays["score"].reshape(len(points), -1)).all(1)
        if "energy" in arrays:
            bad |= ~np.isfinite(arrays["energy"])
        if bad.any():  # flagged, never passed off as numbers: e.g. points beyond the float32 range of the model
            first = int(np.flatnonzero(bad)[0])
            warnings.warn(f"{int(bad.sum())} of {len(points)} points give a non-finite score or energy (the first is "
                          f"point {first + 1}, largest |x| {float(points[first].abs().max()):.3g}): the model is "
                          "evaluated in float32 on standardized points", stacklevel=2)
        return {k: np.asarray(v) for k, v in arrays.items()}, summary

    def default_sampler(self) -> str:
        """SMC for energy models (the right weights between modes), annealed Langevin for ``ncsn`` score models,
        Langevin for other score models."""
        kind = MODELS[self.config.model]
        if not isinstance(self.model, Energy) and OBJECTIVES[self.config.objective].conditional:
            return next(s.name for s in SAMPLERS.entries() if s.needs_ladder)
        return kind.default_sampler

    def draw(self, n: int, *, sampler: str | None = None, steps: int | None = None, step_size: float | None = None,
             seed: int = 0, progress: bool = False) -> tuple[Tensor, dict[str, Any]]:
        """``n`` samples in data units and the draw's report (:func:`scorematch.sampling.draw`: step size,
        acceptance, R̂, ESS, SMC's weights and log Z, warnings). ``step_size`` (standardized units) fixes ε;
        by default it is adapted. SMC's log Z normalises :meth:`energy` (data units: the energies carry the
        standardization's Jacobian, so the number is the same in both units)."""
        check_memory(f"{n} samples of {self.dim} numbers", 64.0 * n * self.dim, "ask for fewer samples (--n)")
        sampler = sampler or self.default_sampler()
        chosen = self.path / "ladder.json"
        if SAMPLERS[sampler].needs_ladder and steps is None and step_size is None and chosen.is_file():
            rule = json.loads(chosen.read_text())  # the step NCSNv2's rule chose for this ladder
            steps, step_size = rule["n_steps_each"] * rule["n_sigmas"], rule["step_size"]
        z, report = draw_samples(self.model, self.config, n, self.event_shape, sampler=sampler,
                                 steps=steps, step_size=step_size, seed=seed, progress=progress)
        return self.stats.inverse(z.double()), report

    def sample(self, n: int, *, sampler: str | None = None, steps: int | None = None, step_size: float | None = None,
               seed: int = 0, progress: bool = False) -> Tensor:
        """``n`` samples in data units (see :meth:`draw`, which also returns the report)."""
        return self.draw(n, sampler=sampler, steps=steps, step_size=step_size, seed=seed, progress=progress)[0]


def _write_json(path: Path, value: object) -> None:
    atomic_write(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def split_data(x: Tensor, val_fraction: float | None, seed: int) -> tuple[Tensor, Tensor | None]:
    """``(train, val)``: a random ``val_fraction`` of the rows (fixed by ``seed``) held out; ``val`` is ``None``
    when the fraction is 0 or the data have fewer than 3 rows. At least two rows stay for training."""
    if not val_fraction:
        return x, None
    n_val = min(max(1, round(val_fraction * x.shape[0])), x.shape[0] - 2)  # standardizing needs 2 training rows
    if n_val < 1:
        return x, None
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed + 7919))
    return x[perm[n_val:]], x[perm[:n_val]]


def _criterion(cfg: TrainConfig, objective: Any, z_val: Tensor | None) -> HeldOutCriterion | None:
    if z_val is None:
        return None
    own = objective if OBJECTIVES[cfg.objective].heldout_loss else None
    return HeldOutCriterion(z_val, objective=own, view=lambda m: at_smallest_sigma(m, cfg), seed=cfg.seed)


def _fit(cfg: TrainConfig, model: Energy | Score, z: Tensor, z_val: Tensor | None, *, out: Path | None,
         resume: bool = False, progress: bool | None = None, eval_fn: Any = None, schedule_steps: int | None = None,
         eval_seconds: float | None = None) -> tuple[FitResult, HeldOutCriterion | None]:
    objective = build_objective(cfg, z)
    criterion = _criterion(cfg, objective, z_val)
    result = fit(model, z, objective, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                 lr_schedule=cfg.lr_schedule, schedule_steps=schedule_steps,
                 weight_decay=cfg.weight_decay, clip_grad_norm=cfg.clip_grad_norm, ema_decay=cfg.ema_decay,
                 generator=torch.Generator().manual_seed(cfg.seed), progress=progress, out_dir=out, val_fraction=None,
                 criterion=criterion, patience=cfg.patience, eval_every=cfg.eval_every,
                 checkpoint_every=cfg.checkpoint_every, resume=resume,
                 eval_fn=eval_fn, eval_seconds=eval_seconds)
    return result, criterion


def train_run(cfg: TrainConfig, out: str | Path, *, resume: bool = False, progress: bool | None = None,
              data: Tensor | None = None, eval_fn: Any = None, eval_seconds: float | None = None,
              names: list[str] | None = None, ladder: bool = False, allow_data_change: bool = False
              ) -> tuple[Run, FitResult]:
    """Train ``cfg`` into the folder ``out`` (or continue it with ``resume``); returns the run and its history.

    A random ``val_fraction`` of the data is held out: the held-out Hyvärinen loss (the Fisher divergence up to a
    constant) is logged every ``eval_every`` steps, the best weights are the ones saved, and training stops after
    ``patience`` steps without a new best. ``summary.json`` records the best step, why training stopped and
    whether overfitting was seen. With ``sigma = "auto"`` (denoising) σ is chosen by successive halving
    (:func:`scorematch.autosigma.choose_sigma`, ``sigma_search.json``), the winner's run continues into ``out``,
    and ``config.json`` holds the σ chosen.
    ``data`` overrides the data the config names (used by ``compare`` to hold out a test split), with its column
    ``names``; ``ladder``: choose the σ ladder (``sigma``, ``sigma_max``, ``n_sigmas``) from the standardized
    training points by :func:`scorematch.schedules.ladder_from_data` and write it, with the reason for each number
    and the annealed sampler's step, to ``ladder.json`` (``sample`` then uses that step); ``allow_data_change``:
    resume although the data's fingerprint (``data_stats.json``) differs; ``eval_fn``
    (``eval_fn(model, stats) -> dict``) adds its values to every held-out evaluation's record (used by
    ``make quality`` to follow the exact Fisher divergence); ``eval_seconds`` also calls it at regular training
    times (see :func:`scorematch.fit`; used by ``compare`` to draw quality against time).
    """
    out, continuing = Path(out), resume
    x, names = prepare_table(cfg) if data is None else (data, names)
    train, val = split_data(x, cfg.val_fraction, cfg.seed)
    if resume:
        saved = read_object(out / "data_stats.json")
        stats = Standardizer.from_dict(saved["standardizer"])
        if saved.get("fingerprint") not in (None, _fingerprint(x)) and not allow_data_change:
            raise RunError(f"{cfg.data}: the data changed since the run {out} began (its fingerprint differs): start a "
                           "new run, or continue with the run's standardization by --allow-data-change")
        done = latest_step(out / "checkpoint")
        if done is not None and cfg.steps < done:
            raise RunError(f"{out}: the run has done {done} steps; --steps {cfg.steps} would go backwards")
    else:
        per = cfg.standardize if isinstance(cfg.standardize, str) else None
        stats = Standardizer.fit(train, per) if cfg.standardize else Standardizer.identity(tuple(x.shape[1:]))
    z = stats.transform(train).float()
    z_val = stats.transform(val).float() if val is not None else None
    extra = None if eval_fn is None else (lambda m: eval_fn(m, stats))
    search, workspace, chosen = None, None, None
    if ladder and not resume:  # the σ ladder and the sampler's step from the standardized training points
        floor = {}
        if cfg.data in IMAGE_SETS:  # noise finer than a grey level's cell would model the dequantization noise
            floor = {"sigma_min": GREY_CELL / max(stats.std),
                     "sigma_min_reason": "the width of a grey level's dequantization cell, 1/17 of the pixel range"}
        chosen = ladder_from_data(z.double(), step_budget=SAMPLERS["annealed"].steps, **floor)
        cfg = cfg.replace(sigma=chosen.sigmas[-1], sigma_max=chosen.sigmas[0], n_sigmas=len(chosen.sigmas))
    if cfg.sigma == "auto":
        from .autosigma import choose_sigma

        def candidate(c: TrainConfig, folder: Path, again: bool) -> float | None:
            torch.manual_seed(c.seed)
            model = build_model(c, tuple(x.shape[1:]))
            return _fit(c, model, z, z_val, out=folder, resume=again, progress=False, eval_fn=extra,
                        schedule_steps=cfg.steps)[0].best_value

        workspace = tempfile.TemporaryDirectory(prefix="scorematch-sigma-")
        sigma, winner, search = choose_sigma(cfg, candidate, Path(workspace.name))
        cfg = cfg.replace(sigma=sigma)
        resume = True  # the run continues the winner from where the search left it
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, tuple(x.shape[1:]))  # refuses a network larger than the memory before building it
    width, layers = (cfg.conv_width, 2 * cfg.conv_blocks + 2) if MODELS[cfg.model].needs_images else (cfg.hidden,
                                                                                                   cfg.depth + 2)
    check_memory(f"a batch of {cfg.batch_size} samples through the network", 32.0 * cfg.batch_size
                 * max(z[0].numel(), width) * layers, "choose a smaller --batch-size")
    check_objective_fits(model, build_objective(cfg, z))  # before anything is written
    out.mkdir(parents=True, exist_ok=True)
    if workspace is not None:
        shutil.copytree(winner / "checkpoint", out / "checkpoint")
        workspace.cleanup()
    if not continuing:  # a resumed run's config.json changes only once it has succeeded (a failed one leaves it)
        _write_json(out / "config.json", cfg.to_dict())
    if chosen is not None:
        _write_json(out / "ladder.json", {**chosen.to_dict(), "units": "standardized"})
    if not (out / "data_stats.json").is_file():
        _write_json(out / "data_stats.json", {"standardizer": stats.to_dict(), "event_shape": list(x.shape[1:]),
                                              "columns": names, "fingerprint": _fingerprint(x),
                                              "range": [float(train.min()), float(train.max())] if x.ndim == 4 else None,
                                              "n": x.shape[0], "n_train": train.shape[0],
                                              "n_val": 0 if val is None else val.shape[0]})
    if search is not None:
        _write_json(out / "sigma_search.json", search)
    try:
        result, criterion = _fit(cfg, model, z, z_val, out=out, resume=resume, progress=progress, eval_fn=extra,
                                 eval_seconds=eval_seconds)
    except TrainingDiverged as e:
        _keep_last_good(out, model, cfg, e)
        raise
    save_tensors(model.state_dict(), out / "model.safetensors", _architecture(cfg, tuple(x.shape[1:])))
    _write_json(out / "config.json", cfg.to_dict())  # the run now goes to cfg.steps
    _write_json(out / "summary.json", {
        "steps_done": result.steps, "stop_reason": result.stop_reason, "best_step": result.best_step,
        "best_val_hyvarinen": result.best_value, "overfit_step": result.overfit_step,
        "criterion": None if criterion is None else ("exact trace" if criterion.exact else "Hutchinson, fixed probes"),
        "kept_weights": "best held-out" if result.best_step is not None else ("EMA" if cfg.ema_decay else "last"),
    })
    if resume:
        names = _names(out)
    return Run(out, cfg, stats, model, names), result


def _architecture(cfg: TrainConfig, event_shape: tuple[int, ...]) -> dict[str, str]:
    """What defines the network of a run, as the header of ``model.safetensors``: checked on load, so that a
    ``config.json`` edited to another activation or size is refused rather than run with these weights."""
    entry = OBJECTIVES[cfg.objective]
    keys = ("model", "conv_width", "conv_blocks") if MODELS[cfg.model].needs_images else \
        ("model", "hidden", "depth", "activation")
    return {"architecture": json.dumps({**{k: getattr(cfg, k) for k in keys}, "conditional": entry.conditional,
                                        "learns_log_z": entry.learns_log_z, "event_shape": list(event_shape)},
                                       sort_keys=True)}


def _fingerprint(x: Tensor) -> str:
    """SHA-256 of the data (float64) and its shape: ``--resume`` checks that the data did not change."""
    import hashlib

    raw = x.detach().double().contiguous().numpy().tobytes()
    return hashlib.sha256(str(tuple(x.shape)).encode() + raw).hexdigest()


def _keep_last_good(out: Path, model: Energy | Score, cfg: TrainConfig, error: TrainingDiverged) -> None:
    """A diverged run stays usable: the weights of its last checkpoint (the best held-out ones, else the EMA, else
    the raw ones) become ``model.safetensors`` and ``summary.json`` says what happened; with no checkpoint, nothing
    is kept (``train`` removes a new run folder)."""
    from .checkpoint import load_checkpoint

    if not (out / "checkpoint" / "latest.json").is_file():
        return
    ck = load_checkpoint(out / "checkpoint")
    model.load_state_dict(ck.best or ck.ema or ck.model)
    save_tensors(model.state_dict(), out / "model.safetensors", _architecture(cfg, _event_shape(out)))
    _write_json(out / "config.json", cfg.replace(steps=max(1, ck.step)).to_dict())  # the steps its weights saw
    _write_json(out / "summary.json", {"steps_done": ck.step, "stop_reason": "diverged",
                                       "diverged": str(error).splitlines()[0], "diverged_step": error.step,
                                       "kept_weights": "best held-out" if ck.best else ("EMA" if ck.ema else "last"),
                                       "kept_from_step": ck.step})


def _event_shape(path: Path) -> tuple[int, ...]:
    stats = read_object(path / "data_stats.json")
    return Standardizer.from_dict(stats["standardizer"]).event_shape


def read_object(path: Path) -> dict[str, Any]:
    """A run folder's JSON file, which must hold an object; :class:`RunError` with one line naming it otherwise."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{path}: unreadable JSON ({str(e).splitlines()[0]})") from None
    if not isinstance(value, dict):
        raise RunError(f"{path}: must hold a JSON object, got {type(value).__name__}")
    return value


def _names(path: Path) -> list[str] | None:
    """The column names a run folder's ``data_stats.json`` holds (``None``: none, or a run written before names)."""
    names = read_object(path / "data_stats.json").get("columns")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise ValueError("data_stats.json: columns must be a list of names")
    return names


def _range(path: Path) -> tuple[float, float] | None:
    """The data's range a run folder's ``data_stats.json`` holds (``None``: none, a table, or an older run)."""
    span = read_object(path / "data_stats.json").get("range")
    if span is None:
        return None
    if not (isinstance(span, list) and len(span) == 2 and all(isinstance(v, (int, float)) for v in span)):
        raise ValueError("data_stats.json: range must be [smallest, largest]")
    return float(span[0]), float(span[1])


def load_run(path: str | Path) -> Run:
    """Load a finished run folder; ``RunError`` with one line if it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such run folder")
    for name in ("config.json", "data_stats.json", "model.safetensors"):
        if not (path / name).is_file():
            raise RunError(f"{path}: not a finished run ({name} is missing)")
    try:
        cfg = TrainConfig.from_dict(read_object(path / "config.json"))
        stats = Standardizer.from_dict(read_object(path / "data_stats.json")["standardizer"])
        names = _names(path)
        _range(path)
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
    from safetensors import safe_open

    with safe_open(path / "model.safetensors", "pt") as f:
        stored = (f.metadata() or {}).get("architecture")
    if stored is not None and stored != _architecture(cfg, stats.event_shape)["architecture"]:
        now = json.loads(_architecture(cfg, stats.event_shape)["architecture"])
        diff = next((k for k, v in json.loads(stored).items() if now.get(k) != v), "the network")
        raise RunError(f"{path}: config.json does not describe the network in model.safetensors ({diff}: "
                       f"{now.get(diff)!r} in config.json, {json.loads(stored).get(diff)!r} in the weights)")
    bad = [k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise RunError(f"{path}: model.safetensors holds non-finite weights ({bad[0]}{' …' if len(bad) > 1 else ''}); "
                       "the run cannot be used")
    model.eval()
    return Run(path, cfg, stats, model, names)
