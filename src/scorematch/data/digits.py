r"""Handwritten digits as images: scikit-learn's 1,797 digits of 8×8 pixels (the UCI "Optical Recognition of
Handwritten Digits" test set), and the same digits resized to 28×28.

Pixels take 17 grey levels :math:`k \in \{0, …, 16\}`; they are mapped to [0, 1] as :math:`k/16`, or, with
``dequantize``, as :math:`(k + u)/17` with :math:`u \sim U(0, 1)` drawn from the generator — uniform
dequantization, which turns the 17-level grid into a density a continuous model can fit (Theis et al. 2016).
The split is fixed: a permutation with seed 0 sends 360 images (20%) to ``"test"`` and 1,437 to ``"train"``.

``size=28`` resizes the 8×8 images bilinearly to 28×28 and rounds them back onto the 17 grey levels (then
dequantizes, if asked), d = 784: **an MNIST-sized stand-in for cost studies, not MNIST** — the same 1,797 digits,
smoothly upsampled. The rounding matters: a bilinear upsampling is linear, so without it the 28×28 images (and any
noise added before resizing) would lie in a 64-dimensional subspace of the 784 pixels, a density with no
score across it, and a held-out score-matching loss that falls without bound.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

__all__ = ["GREY_CELL", "IMAGE_SETS", "N_TEST", "digit_labels", "digits", "image_set"]

N_TEST = 360
GREY_CELL = 1 / 17
"""The width of one grey level's cell in dequantized digits, (k + u)/17: their resolution in data units."""
IMAGE_SETS: dict[str, int] = {"digits": 8, "digits28": 28}
"""The built-in image sets by name, and their side: ``digits`` (8×8, d = 64) and ``digits28`` (28×28, d = 784, an
MNIST-sized stand-in for cost studies, not MNIST)."""


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[Tensor, Tensor]:  # read once per process; callers index it, which copies
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - a dependency of the package
        raise RuntimeError("the digits come from scikit-learn: pip install scikit-learn") from None
    bunch = load_digits()
    return torch.from_numpy(bunch.images).to(torch.float64), torch.from_numpy(bunch.target).long()


def _indices(split: str, n: int) -> Tensor:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    if split == "train":
        return perm[N_TEST:]
    if split == "test":
        return perm[:N_TEST]
    if split == "all":
        return torch.arange(n)
    raise ValueError(f"unknown split {split!r}; choose one of: train, test, all")


def digits(split: str = "train", *, size: int = 8, dequantize: bool = False,
           generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """The digits of ``split`` (``"train"``, ``"test"`` or ``"all"``) as images ``(n, 1, size, size)`` in [0, 1];
    see the module docstring. ``size`` is 8 (the originals) or any larger side (bilinear resizing, e.g. 28).

    >>> x = digits("test", size=28)
    >>> tuple(x.shape), float(x.min()) >= 0.0, float(x.max()) <= 1.0
    ((360, 1, 28, 28), True, True)
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    images, _ = _raw()
    levels = images[_indices(split, images.shape[0])][:, None]  # grey levels 0..16
    if size != 8:  # resize, then back onto the 17 grey levels: pixels on a grid, as MNIST's are
        levels = (torch.nn.functional.interpolate(levels / 16.0, size=(size, size), mode="bilinear",
                                                  align_corners=False) * 16).round().clamp(0, 16)
    if dequantize:
        u = torch.rand(levels.shape, generator=generator, dtype=torch.float64)
        return ((levels + u) / 17.0).to(dtype)
    return (levels / 16.0).to(dtype)


def digit_labels(split: str = "train") -> Tensor:
    """The class (0–9) of each digit of ``split``, in the order of :func:`digits`."""
    images, labels = _raw()
    return labels[_indices(split, images.shape[0])]


def image_set(name: str, split: str = "train", *, generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float32) -> Tensor:
    """The built-in image set ``name`` (:data:`IMAGE_SETS`) as the command line trains on it: the digits of
    ``split``, uniformly dequantized with ``generator`` (a fixed grid of 17 grey levels has no density)."""
    if name not in IMAGE_SETS:
        raise ValueError(f"unknown image set {name!r}; choose one of: {', '.join(IMAGE_SETS)}")
    return digits(split, size=IMAGE_SETS[name], dequantize=True, generator=generator, dtype=dtype)
