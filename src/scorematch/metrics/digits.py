r"""Sample quality of handwritten digits, measured by a classifier trained on the real ones.

:func:`digit_classifier` trains a small convolutional network (two 3×3 convolutions of 32 channels, 2×2 average
pooling, a 3×3 convolution of 64 channels, SiLU after each, global average pooling to 64 features, a linear map to
the 10 classes) on the training split of scikit-learn's digits (:func:`scorematch.data.digits`) less its first
:data:`N_REAL` images, which it never sees and which serve as the real reference below; uniformly dequantized
afresh at every step, so it reads the continuous images a density model produces; deterministic from a seed, about
ten seconds on a CPU. Its accuracy on the test split is kept (``test_accuracy``: 0.975). 28×28 images are averaged
down to 8×8 first. Its pooled convolutional features see texture as well as shape: on 360 images, the real digits
lie at a Fréchet distance of 5.9 from the test digits and a Gaussian fitted to the digits at 17.4 ± 1.4 (5 draws),
where the features of a multilayer perceptron of the same accuracy put 360 real digits at 13.1 ± 3.9 and the
Gaussian at 19.8 ± 4.0, too noisy to tell them apart.

:func:`digit_quality` then reports, for a set of images ``(n, 1, h, w)`` in the data's units ([0, 1]):

* ``frechet`` — the Fréchet distance (:func:`~scorematch.metrics.frechet.frechet_distance`) between the images and
  the real test digits in the classifier's 64 pooled features (FID's recipe with this classifier in place of
  Inception): 0 for identical laws, plus the finite-sample bias;
* ``histogram`` — the share of images the classifier puts in each class 0–9 (mode coverage: the real digits give
  about 0.1 each), and ``covered``, the classes holding at least half a fair share (5%);
* ``confidence`` — the mean probability of the predicted class: real digits score near 1, blurred or
  ambiguous ones lower.

:func:`digit_references` gives the same numbers for real digits (the :data:`N_REAL` training digits the classifier
never saw, measured against the test split like a model's samples: the floor) and for a Gaussian fitted to the
training digits (a model with the right mean and covariance and nothing else), so a model's numbers have a
scale.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..data.digits import digit_labels, digits
from .frechet import frechet_distance

__all__ = ["N_REAL", "DigitClassifier", "DigitQuality", "bits_per_dim", "digit_classifier", "digit_quality",
           "digit_references"]

FAIR_SHARE = 0.05
N_REAL = 360


class DigitClassifier(nn.Module):
    """``features(x)``: 64 pooled features of images ``(n, 1, h, w)``; ``forward(x)``: the 10 class logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.SiLU(), nn.Conv2d(32, 32, 3, padding=1), nn.SiLU(),
                                  nn.AvgPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.SiLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(64, 10)
        self.test_accuracy = float("nan")

    def features(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"the digit classifier reads grey images (n, 1, h, w); got {tuple(x.shape)}")
        x = x.float()
        if x.shape[-2:] != (8, 8):
            x = nn.functional.adaptive_avg_pool2d(x, 8)
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


CLASSIFIER_STEPS = 1500


def digit_classifier(seed: int = 0, steps: int | None = None) -> DigitClassifier:
    """The classifier of the module docstring, trained with AdamW (lr 2e-3, batch 128, weight decay 1e-4) for
    ``steps`` steps (default :data:`CLASSIFIER_STEPS`) from ``seed``; cached per ``(seed, steps)``."""
    return _trained(seed, CLASSIFIER_STEPS if steps is None else steps)


@functools.lru_cache(maxsize=4)
def _trained(seed: int, steps: int) -> DigitClassifier:
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DigitClassifier().float()
    levels = digits("train", dtype=torch.float64)[N_REAL:] * 16  # the 17 grey levels
    labels = digit_labels("train")[N_REAL:]
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    for _ in range(steps):
        idx = torch.randint(0, levels.shape[0], (128,), generator=g)
        x = ((levels[idx] + torch.rand(levels[idx].shape, generator=g, dtype=torch.float64)) / 17).float()
        loss = nn.functional.cross_entropy(net(x), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        test = digits("test", dequantize=True, generator=g)
        net.test_accuracy = float((net(test).argmax(1) == digit_labels("test")).double().mean())
    return net


@dataclass(frozen=True)
class DigitQuality:
    """The numbers of :func:`digit_quality` (see the module docstring)."""

    frechet: float
    histogram: tuple[float, ...]
    covered: int
    confidence: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def digit_quality(images: Tensor, *, classifier: DigitClassifier | None = None, seed: int = 0) -> DigitQuality:
    """The quality of ``images`` ``(n, 1, s, s)`` (data units, [0, 1]) against the real test digits of the same
    side ``s`` (8, or e.g. 28 for ``digits28``), read by ``classifier`` (default: :func:`digit_classifier`);
    non-finite images are refused."""
    if images.ndim != 4 or images.shape[1] != 1 or images.shape[0] < 2:
        raise ValueError(f"digit_quality: need at least 2 grey images (n, 1, h, w); got {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("digit_quality: some images hold non-finite values")
    net = classifier or digit_classifier()
    test = digits("test", size=images.shape[-1], dequantize=True, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        feats = net.features(images)
        probs = net.head(feats).softmax(1)
        reference = net.features(test)
    counts = torch.bincount(probs.argmax(1), minlength=10).double() / images.shape[0]
    return DigitQuality(frechet=frechet_distance(feats, reference), histogram=tuple(counts.tolist()),
                        covered=int((counts >= FAIR_SHARE).sum()), confidence=float(probs.amax(1).mean()),
                        n=int(images.shape[0]))


def digit_references(n: int = N_REAL, *, size: int = 8, classifier: DigitClassifier | None = None, seed: int = 0
                     ) -> dict[str, DigitQuality]:
    """:func:`digit_quality` of the first ``n`` ≤ :data:`N_REAL` training digits, which the classifier never saw
    (``"real digits"``: how close two real samples come, the floor), and of ``n`` draws from the Gaussian with the
    training digits' mean and covariance (``"gaussian"``), both dequantized like the data; ``size``: the side of the
    digits (8, or 28 as ``digits28``)."""
    g = torch.Generator().manual_seed(seed)
    train = digits("train", size=size, dequantize=True, generator=g, dtype=torch.float64)
    if not 2 <= n <= N_REAL:
        raise ValueError(f"digit_references: n must lie in [2, {N_REAL}], got {n}")
    real = train[:n]
    flat = train.flatten(1)
    mean, cov = flat.mean(0), torch.cov(flat.T)
    chol = torch.linalg.cholesky(cov + 1e-9 * torch.eye(flat.shape[1], dtype=torch.float64))
    gauss = (mean + torch.randn(n, flat.shape[1], generator=g, dtype=torch.float64) @ chol.T).reshape(n, *train.shape[1:])
    return {"real digits": digit_quality(real, classifier=classifier, seed=seed),
            "gaussian": digit_quality(gauss, classifier=classifier, seed=seed)}


def bits_per_dim(log_p: Tensor, dim: int, *, levels: int = 17, width: float = 1.0) -> Tensor:
    r"""Bits per dimension of discrete images from a density's log-likelihood of their uniform dequantization.

    Grey levels :math:`k \in \{0..L-1\}^D` dequantized as :math:`y = (k + u)\,w/L`, :math:`u \sim U(0,1)^D`
    (``levels`` L, ``width`` w the data's range: the built-in digits are :math:`(k+u)/17` in [0, 1]). A density
    p on y gives the discrete model :math:`P(k) = \int_{\text{cell}} p \ge (w/L)^D \exp E_u \log p(y)` (Jensen;
    Theis et al. 2016), so with ``log_p`` :math:`= \log p(y)` in nats

    .. math::

        \text{bits/dim} = \frac{-\log p(y) - D\log(w/L)}{D \log 2} = -\frac{\log p(y)}{D\log 2} + \log_2\frac{L}{w},

    an upper bound on the model's discrete code length (lower is better, never negative for a proper P; the uniform
    density on [0, w]^D gives :math:`\log_2 L`, 4.09 bits for 17 levels). Forgetting the offset is what gives
    negative bits/dim.

    >>> round(float(bits_per_dim(torch.zeros(1), 64)), 4)   # the uniform density on [0, 1]^64
    4.0875
    """
    return (-log_p / dim + math.log(levels / width)) / math.log(2)
