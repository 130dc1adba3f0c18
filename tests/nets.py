"""Small random smooth networks for tests: energies and scores, vector and image events, optionally
noise-conditional (``net(x, sigma)`` with log σ appended as an input feature or channel)."""

from __future__ import annotations

import math

import torch
from torch import nn


class MLP(nn.Module):
    """(B, d) -> (B, out); with ``conditional`` the input is [x, log σ]. No output bias for energies:
    a constant shift of an energy changes no score, so its gradient would be zero."""

    def __init__(self, d: int, out: int, *, conditional: bool = False, width: int = 16, out_bias: bool = True):
        super().__init__()
        self.conditional = conditional
        self.body = nn.Sequential(
            nn.Linear(d + conditional, width), nn.SiLU(), nn.Linear(width, width), nn.Tanh(),
            nn.Linear(width, out, bias=out_bias),
        )

    def forward(self, x, sigma=None):
        if self.conditional:
            x = torch.cat([x, sigma.log().unsqueeze(-1)], -1)
        return self.body(x)


class Conv(nn.Module):
    """(B, c, h, w) -> energy (B,) or score (B, c, h, w)."""

    def __init__(self, shape: tuple[int, int, int], energy: bool, *, conditional: bool = False):
        super().__init__()
        c, h, w = shape
        self.conditional, self.energy = conditional, energy
        self.conv = nn.Sequential(nn.Conv2d(c + conditional, 6, 3, padding=1), nn.Softplus(),
                                  nn.Conv2d(6, 6 if energy else c, 3, padding=1))
        self.head = nn.Linear(6 * h * w, 1, bias=False) if energy else None

    def forward(self, x, sigma=None):
        if self.conditional:
            level = sigma.log().reshape(-1, 1, 1, 1).expand(x.shape[0], 1, *x.shape[2:])
            x = torch.cat([x, level], 1)
        y = self.conv(x)
        return self.head(torch.tanh(y).flatten(1)).squeeze(-1) if self.energy else y


def make_net(kind: str, event: tuple[int, ...], *, conditional: bool = False, seed: int = 0) -> nn.Module:
    """A random net for ``kind`` in {"energy", "score"} on events of shape ``event``."""
    torch.manual_seed(seed)
    energy = kind == "energy"
    if len(event) == 1:
        return MLP(event[0], 1 if energy else event[0], conditional=conditional, out_bias=not energy)
    return Conv(event, energy, conditional=conditional)


def numel(event: tuple[int, ...]) -> int:
    return math.prod(event)
