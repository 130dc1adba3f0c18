"""Checkpoints without pickle, written so that a crash or a kill never leaves a half-written one in use.

Layout of a checkpoint folder::

    checkpoint/
      latest.json                 {"step": 500, "dir": "step-00000500"}   (replaced atomically, written last)
      step-00000500/
        model.safetensors         the raw (trained) weights
        ema.safetensors           the exponential moving average of the weights, when used
        best.safetensors          the weights with the best held-out criterion so far, when monitored
        objective.safetensors     the objective's own state (a persistent-CD replay buffer), when it has one
        optimizer.safetensors     every tensor of the optimizer's state
        rng.safetensors           the torch.Generator state
        state.json                step, history, optimizer hyper-parameters, scalar state, the monitor's state

A step folder is filled under a temporary name and renamed into place (atomic on POSIX), and only then does
``latest.json`` point at it; older step folders are removed afterwards. :func:`atomic_write` gives the same
guarantee for single files (temporary file + ``os.replace``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

__all__ = ["Checkpoint", "CheckpointError", "atomic_write", "latest_step", "load_checkpoint", "remove_leftovers",
           "save_checkpoint", "save_tensors"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_tensors(tensors: dict[str, Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Save a flat dict of tensors as safetensors (with string ``metadata`` in its header), atomically."""
    from safetensors.torch import save

    atomic_write(path, save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata))


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    step: int
    model: dict[str, Tensor]
    ema: dict[str, Tensor] | None
    optimizer: dict[str, Any]
    rng_state: Tensor
    history: list[dict[str, float]]
    best: dict[str, Tensor] | None = None
    monitor: dict[str, Any] | None = None
    objective: dict[str, Tensor] | None = None


def _split_optimizer_state(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors, scalars = {}, {}
    for pid, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _join_optimizer_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    for pid, entries in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(entries)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(folder: str | Path, *, step: int, model: dict[str, Tensor], optimizer: dict[str, Any],
                    rng_state: Tensor, history: list[dict[str, float]], ema: dict[str, Tensor] | None = None,
                    best: dict[str, Tensor] | None = None, monitor: dict[str, Any] | None = None,
                    objective: dict[str, Tensor] | None = None) -> Path:
    """Write a complete checkpoint for ``step`` and make it the latest; returns its step folder.

    ``best`` and ``monitor`` are the early-stopping monitor's best weights and its JSON-able state; ``objective``
    the tensors of a stateful objective (e.g. a replay buffer)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    final = folder / name
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in model.items()}, tmp / "model.safetensors")
        if ema is not None:
            save_file({k: v.detach().contiguous().cpu() for k, v in ema.items()}, tmp / "ema.safetensors")
        if best is not None:
            save_file({k: v.detach().contiguous().cpu() for k, v in best.items()}, tmp / "best.safetensors")
        if objective is not None:
            save_file({k: v.detach().contiguous().cpu() for k, v in objective.items()}, tmp / "objective.safetensors")
        opt_tensors, opt_meta = _split_optimizer_state(optimizer)
        save_file({k: v.detach().contiguous().cpu() for k, v in opt_tensors.items()}, tmp / "optimizer.safetensors")
        save_file({"generator": rng_state.contiguous()}, tmp / "rng.safetensors")
        meta = {"step": step, "history": history, "optimizer": opt_meta, "ema": ema is not None,
                "best": best is not None, "monitor": monitor, "objective": objective is not None}
        (tmp / "state.json").write_text(json.dumps(meta))
        for f in tmp.iterdir():  # make the contents durable before the rename publishes them
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():  # the same step saved again: keep the old copy until the new one is in place
            aside = final.with_name(f".{name}.old")
            shutil.rmtree(aside, ignore_errors=True)
            os.rename(final, aside)
            os.rename(tmp, final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write(folder / "latest.json", json.dumps({"step": step, "dir": name}))
    for old in folder.iterdir():
        if old.is_dir() and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def remove_leftovers(run: str | Path) -> list[Path]:
    """Delete the temporary files and folders (``.NAME.*.tmp``) that a process killed while writing left in a run
    folder and its ``checkpoint/``, and put back a step folder set aside (``.step-N.old``) by a save of the same
    step that was killed between its two renames; returns what was removed. Call it only while holding the run's lock: a live
    writer's temporaries look the same."""
    removed = []
    for folder in (Path(run), Path(run) / "checkpoint"):
        for p in folder.glob(".*.tmp") if folder.is_dir() else ():
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
            removed.append(p)
    ckpt = Path(run) / "checkpoint"
    for aside in ckpt.glob(".step-*.old") if ckpt.is_dir() else ():  # a step saved again, killed between renames
        if aside.is_dir() and not aside.is_symlink() and not (ckpt / aside.name[1:-4]).exists():
            os.rename(aside, ckpt / aside.name[1:-4])  # the old copy is the step's only one: put it back
        else:
            shutil.rmtree(aside, ignore_errors=True)
            removed.append(aside)
    return removed


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be read: a damaged or foreign ``latest.json``, state or tensor file."""


_STEP_DIR = re.compile(r"step-\d{8,}")


def _pointer(folder: Path) -> dict[str, Any]:
    """``latest.json``, checked: a JSON object whose ``step`` is a whole number ≥ 0 and whose ``dir`` names a step
    folder inside ``folder`` (never a path that leaves it)."""
    try:
        pointer = json.loads((folder / "latest.json").read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{folder / 'latest.json'}: unreadable ({str(e).splitlines()[0]})") from None
    if not isinstance(pointer, dict) or not isinstance(pointer.get("step"), int) or isinstance(pointer["step"], bool) \
            or pointer["step"] < 0 or not isinstance(pointer.get("dir"), str):
        raise CheckpointError(f"{folder / 'latest.json'}: must be an object with a whole 'step' and a 'dir'")
    if not _STEP_DIR.fullmatch(pointer["dir"]):
        raise CheckpointError(f"{folder / 'latest.json'}: 'dir' must name a step folder of the checkpoint "
                              f"(step-NNNNNNNN), got {pointer['dir'][:80]!r}")
    return pointer


def latest_step(folder: str | Path) -> int | None:
    """The step of the latest complete checkpoint in ``folder``, or ``None`` if there is none."""
    folder = Path(folder)
    if not (folder / "latest.json").is_file():
        return None
    return int(_pointer(folder)["step"])


def load_checkpoint(folder: str | Path, device: torch.device | str | None = None) -> Checkpoint:
    """Read the latest complete checkpoint of ``folder``; ``FileNotFoundError`` if there is none,
    :class:`CheckpointError` (one line) if it is damaged."""
    folder = Path(folder)
    pointer = folder / "latest.json"
    if not pointer.is_file():
        raise FileNotFoundError(f"{folder}: no checkpoint (latest.json is missing)")
    try:
        return _load(folder, _pointer(folder)["dir"], device)
    except CheckpointError:
        raise
    except Exception as e:  # a truncated, foreign or hand-edited file: the message says which folder
        raise CheckpointError(f"{folder}: the checkpoint is damaged ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:160] if str(e) else ''})") from None


def _load(folder: Path, name: str, device: torch.device | str | None) -> Checkpoint:
    where = folder / name
    if not where.is_dir() and (folder / f".{name}.old").is_dir():  # killed while re-saving the same step
        where = folder / f".{name}.old"
    dev = "cpu" if device is None else str(device)
    meta = json.loads((where / "state.json").read_text())
    ema = load_file(where / "ema.safetensors", device=dev) if meta["ema"] else None
    best = load_file(where / "best.safetensors", device=dev) if meta.get("best") else None
    objective = load_file(where / "objective.safetensors", device=dev) if meta.get("objective") else None
    optimizer = _join_optimizer_state(load_file(where / "optimizer.safetensors", device=dev), meta["optimizer"])
    return Checkpoint(step=meta["step"], model=load_file(where / "model.safetensors", device=dev), ema=ema,
                      optimizer=optimizer, rng_state=load_file(where / "rng.safetensors")["generator"],
                      history=meta["history"], best=best, monitor=meta.get("monitor"),
                      objective=objective)
