"""Fit an energy-based model to a noisy ring with sliced score matching, in a plain PyTorch loop.

Run: ``make demo`` (or ``python examples/quickstart.py``). Prints the loss as it falls and checks that the learned
density is a ring: low energy on the circle of radius 2, high energy at its centre and far outside.
"""

import torch

from scorematch import Energy
from scorematch.losses import sliced

g = torch.Generator().manual_seed(0)
angle = 2 * torch.pi * torch.rand(4096, generator=g)  # a noisy ring of radius 2
data = 2 * torch.stack([angle.cos(), angle.sin()], 1) + 0.1 * torch.randn(4096, 2, generator=g)
net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.SiLU(), torch.nn.Linear(64, 64), torch.nn.SiLU(),
                          torch.nn.Linear(64, 1))
model, opt = Energy(net), torch.optim.Adam(net.parameters(), lr=1e-3)
for step in range(2000):
    x = data[torch.randint(0, len(data), (256,), generator=g)]
    loss = sliced(model, x, n_probes=1, generator=g).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 400 == 0 or step == 1999:
        print(f"step {step:5d}  sliced SM loss {loss.item():9.3f}")

with torch.no_grad():
    points = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, -2.0], [4.0, 0.0]])
    energy = model.energy(points)
for (px, py), e in zip(points.tolist(), energy.tolist(), strict=True):
    print(f"E({px:+.0f}, {py:+.0f}) = {e:8.3f}")
ring = energy[1:3].max()
assert ring < energy[0] and ring < energy[3], "the learned energy should be lowest on the ring"
print("ok: the energy is lowest on the ring, higher at its centre and outside")
