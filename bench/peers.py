r"""Adapters that run the score-matching objectives and Langevin samplers of peer libraries.

Each adapter wraps an energy network ``net: (B, d) -> (B, 1)`` (or ``(B,)``), :math:`p \propto \exp(-E)`, in the
model class the peer expects and drives the peer's own public API, as its documentation shows, so that a benchmark
times the peer's code path rather than a re-implementation of it. Peers are imported lazily: this module imports
without them.

Peers (``pip install torchebm==0.8.9 ebmkit==0.16.0``, torch from ``constraints.txt`` first):

* **torchebm 0.8.9** (import ``torchebm``). Energies subclass ``torchebm.core.BaseModel`` (``forward(x) -> (B,)``).
  Losses are modules built on the model, called as ``loss_fn(x, generator=g)``, and return the batch mean.
* **ebmkit 0.16.0** (import ``ebm``). An energy is any callable ``(B, *shape) -> (B,)``; ``ebm.EnergyModel(net)``
  reshapes ``(B, 1)`` to ``(B,)``. Losses are modules called as ``loss_fn(energy, x)`` returning a ``LossOutput``
  whose ``.loss`` is the batch mean. They draw their noise from torch's global RNG (no ``generator`` argument) and
  call ``loss.item()`` for their metrics dict on every call (a host sync, harmless on CPU).

Objective names (``OBJECTIVES``) and the peer class behind each (``s = -∇E`` below; the peers' losses are batch
means, scorematch's are per sample):

==========  ====================================================  ===========================================
objective   torchebm 0.8.9                                        ebmkit 0.16.0
==========  ====================================================  ===========================================
``esm``     ``ScoreMatching(model, hessian_method="exact")``      ``ExactScoreMatching()``
``ssm``     ``SlicedScoreMatching(model, n_projections=1,         ``SlicedScoreMatching(n_projections=1,
            projection_type="gaussian")``                         vr=False)``
``ssm-vr``  none                                                  ``SlicedScoreMatching(n_projections=1,
                                                                  vr=True)``
``dsm``     ``DenoisingScoreMatching(model, noise_scale=σ)``      ``DenoisingScoreMatching(sigma=σ)``
``fd-ssm``  ``ScoreMatching(model, hessian_method="approx")``     none
            (**not** FD-SSM: see ``MISMATCHED``)
``ncsn``    none                                                  none (``MultiSigmaDenoisingScoreMatching``
                                                                  needs a noise-conditional ``E(x, σ)``)
==========  ====================================================  ===========================================

Loss conventions, all checked numerically by ``bench/check_peers.py`` (float64, same noise/probes):

* ``esm``: both peers compute :math:`\tfrac12\lVert\nabla E\rVert^2 - \Delta E` with an exact trace, equal to
  scorematch's ``explicit(...).mean()`` to round-off. torchebm takes the trace from a per-sample ``vmap(jacrev)``
  of the full D×D Hessian (and evaluates the score twice); ebmkit with a Python loop of D double-backward passes.
* ``ssm`` / ``ssm-vr``: :math:`v^\top\nabla s\,v + \tfrac12 (v^\top s)^2`, VR form
  :math:`v^\top\nabla s\,v + \tfrac12\lVert s\rVert^2`; Gaussian probes, as scorematch's ``sliced``. torchebm's
  default probes are Rademacher (same expectation); Gaussian is chosen here so the estimator is identical.
* ``dsm``: :math:`\tfrac12\lVert s(x + σε) + ε/σ\rVert^2` in both, unweighted (no σ² factor), identical to
  ``denoising(..., sigma=σ)`` with ``weighting="none"``. (torchebm writes it as ``½‖∇E − noise/σ²‖²`` with
  ``noise = σε``: the same thing.) torchebm's ``noise_scale`` default is 0.01; σ is always passed explicitly.
* torchebm ``ScoreMatching(hessian_method="approx")`` (listed as ``fd-ssm``) is
  :math:`\tfrac12\lVert s\rVert^2 + v^\top\nabla s\,v / D` with the quadratic form from one forward difference
  of the autograd score, step 1e-5, Gaussian ``v``: the trace term is divided by ``D``, so its expectation is not
  the ESM objective (it equals it only for ``D = 1``) and in float32 the 1e-5 difference is dominated by round-off.
  It also still needs second-order autograd (the score is built with ``create_graph=True``, three times).

Cost notes: at d = 784 one ``esm`` step takes seconds (ebmkit ~6 s, torchebm ~19 s on one CPU thread, ~3.6 GB
peak), so time it with few repetitions. torchebm casts ``x`` to the model's dtype; ebmkit does not.

Langevin (unadjusted), both peers: :math:`x \leftarrow x - \eta\nabla E(x) + \sqrt{2\eta}\,z`. scorematch
writes :math:`x \leftarrow x + \tfrac{\varepsilon}{2}s(x) + \sqrt{\varepsilon}\,z`, so
:math:`\eta = \varepsilon/2`. ``langevin(..., step_size=ε)`` takes scorematch's ε and passes ε/2 to the peer, so
all libraries simulate the same chain.

* torchebm: ``LangevinDynamics(model, step_size=ε/2, noise_scale=1.0).sample(x=x0, n_steps=n)``; the noise is
  :math:`\sqrt{2\eta}\cdot\text{noise\_scale}\cdot z` (Euler–Maruyama with diffusion ``noise_scale²``). No
  trajectory is stored with ``return_trajectory=False`` (the default).
* ebmkit: ``LangevinDynamics(step_size=ε/2, steps=n, noise_scale=None).sample(energy, x0)``;
  ``noise_scale=None`` means :math:`\sqrt{2\eta}`. It sets ``requires_grad=False`` on the energy's parameters
  for the duration of ``sample`` and restores them afterwards.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from types import ModuleType

import torch
from torch import Tensor, nn

__all__ = ["MISMATCHED", "OBJECTIVES", "PEER_VERSIONS", "installed", "langevin", "loss_fn", "training_step"]

PEER_VERSIONS = {"torchebm": "0.8.9", "ebmkit": "0.16.0"}
OBJECTIVES = ("esm", "ssm", "ssm-vr", "dsm", "fd-ssm", "ncsn")

# (peer, objective) pairs that run but do NOT optimise the same objective as scorematch's namesake (see the
# module docstring); a benchmark should footnote or skip them.
MISMATCHED = {
    ("torchebm", "fd-ssm"): "ScoreMatching(hessian_method='approx'): ½‖s‖² + vᵀ∇s v / D by a 1e-5 forward "
                            "difference of the autograd score; trace divided by D, not Pang et al.'s FD-SSM",
}

_IMPORT_NAMES = {"torchebm": "torchebm", "ebmkit": "ebm"}


def _import(peer: str) -> ModuleType:
    """Import a peer's top-level package, restoring torch's float32 matmul precision (a global that some
    torchebm modules set on import) so that importing a peer cannot change how anything else runs."""
    if peer not in PEER_VERSIONS:
        raise ValueError(f"unknown peer {peer!r}; choose from {sorted(PEER_VERSIONS)}")
    precision = torch.get_float32_matmul_precision()
    try:
        return importlib.import_module(_IMPORT_NAMES[peer])
    finally:
        torch.set_float32_matmul_precision(precision)


def installed() -> dict[str, str]:
    """Peer name -> installed version, for the peers that import."""
    found = {}
    for peer in PEER_VERSIONS:
        try:
            _import(peer)
        except ImportError:
            continue
        found[peer] = importlib.metadata.version(peer)
    return found


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose from {OBJECTIVES}")


# --------------------------------------------------------------------------------------------------- torchebm


def _torchebm_model(net: nn.Module) -> nn.Module:
    """``net`` as a ``torchebm.core.BaseModel``, the documented way to bring a network: subclass and return the
    per-sample energy of shape ``(B,)`` (``BaseModel.gradient`` insists on it). Its device and dtype come from
    ``net``'s parameters."""
    from torchebm.core import BaseModel

    class NetEnergy(BaseModel):
        def __init__(self, net: nn.Module):
            super().__init__()
            self.net = net

        def forward(self, x: Tensor) -> Tensor:
            return self.net(x).reshape(x.shape[0])

    return NetEnergy(net)


def _torchebm_loss(objective: str, model: nn.Module, sigma: float) -> nn.Module | None:
    from torchebm.losses import DenoisingScoreMatching, ScoreMatching, SlicedScoreMatching

    # The losses' dtype/device follow the model's parameters (dtype= only seeds a probe buffer).
    if objective == "esm":
        return ScoreMatching(model=model, hessian_method="exact")
    if objective == "ssm":
        return SlicedScoreMatching(model=model, n_projections=1, projection_type="gaussian")
    if objective == "dsm":
        return DenoisingScoreMatching(model=model, noise_scale=sigma)
    if objective == "fd-ssm":  # in MISMATCHED: not the same objective
        return ScoreMatching(model=model, hessian_method="approx")
    return None  # ssm-vr, ncsn: not offered


# ----------------------------------------------------------------------------------------------------- ebmkit


def _ebmkit_loss(objective: str, sigma: float) -> nn.Module | None:
    import ebm

    if objective == "esm":
        return ebm.ExactScoreMatching()
    if objective in ("ssm", "ssm-vr"):
        return ebm.SlicedScoreMatching(n_projections=1, vr=objective == "ssm-vr")
    if objective == "dsm":
        return ebm.DenoisingScoreMatching(sigma=sigma)
    return None  # fd-ssm: not offered; ncsn: MultiSigmaDenoisingScoreMatching needs E(x, σ)


# ------------------------------------------------------------------------------------------------- public API


def loss_fn(peer: str, objective: str, net: nn.Module, *, sigma: float = 0.1,
            generator: torch.Generator | None = None) -> Callable[[Tensor], Tensor] | None:
    """``x -> scalar loss`` (the batch mean) of ``peer``'s ``objective`` on the energy ``net``, or ``None`` if the
    peer does not offer it. ``generator`` feeds torchebm's noise; ebmkit draws from torch's global RNG."""
    _check_objective(objective)
    _import(peer)
    if peer == "torchebm":
        loss = _torchebm_loss(objective, _torchebm_model(net), sigma)
        return None if loss is None else (lambda x: loss(x, generator=generator))
    import ebm

    energy = ebm.EnergyModel(net)
    loss = _ebmkit_loss(objective, sigma)
    return None if loss is None else (lambda x: loss(energy, x).loss)


def training_step(
    peer: str,
    objective: str,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    sigma: float = 0.1,
    generator: torch.Generator | None = None,
) -> Callable[[Tensor], None] | None:
    """One full training step of ``peer``'s ``objective``: ``step(x)`` zeroes the gradients, evaluates the peer's
    loss on the batch ``x`` (mean over the batch), back-propagates and steps ``optimizer``.

    The peer's model wrapper and loss object are built here, once, outside the returned closure. Returns
    ``None`` where the peer has no such objective; raises ``ValueError`` for an unknown peer or objective and
    ``ImportError`` if the peer is not installed. See ``MISMATCHED`` for pairs that run a different objective.
    """
    loss = loss_fn(peer, objective, net, sigma=sigma, generator=generator)
    if loss is None:
        return None

    def step(x: Tensor) -> None:
        optimizer.zero_grad()
        loss(x).backward()
        optimizer.step()

    return step


def langevin(peer: str, net: nn.Module, x0: Tensor, *, step_size: float, n_steps: int) -> Callable[[], Tensor] | None:
    r"""A closure running ``n_steps`` of ``peer``'s unadjusted Langevin sampler on the energy ``net`` from ``x0``;
    it returns the final samples (no trajectory is kept).

    ``step_size`` is scorematch's ε (:math:`x + \tfrac{ε}{2}s + \sqrt{ε}z`); the peers are given their
    :math:`\eta = ε/2` (:math:`x - \eta\nabla E + \sqrt{2\eta}z`), so every library runs the same chain. Both
    peers draw the noise from torch's global RNG. Returns ``None`` if the peer has no Langevin sampler.
    """
    _import(peer)
    eta = step_size / 2
    if peer == "torchebm":
        from torchebm.samplers import LangevinDynamics

        # noise_scale=1.0: the Euler–Maruyama noise sqrt(2 η noise_scale²) z is the exact-target sqrt(2η) z.
        sampler = LangevinDynamics(model=_torchebm_model(net), step_size=eta, noise_scale=1.0)
        return lambda: sampler.sample(x=x0, n_steps=n_steps)
    import ebm

    energy = ebm.EnergyModel(net)
    sampler = ebm.LangevinDynamics(step_size=eta, steps=n_steps, noise_scale=None)  # None: sqrt(2η) z
    return lambda: sampler.sample(energy, x0)
