"""The sample quality of an image run on the digits, read by the digit classifier, next to its references.

    python bench/digits_quality.py RUN [--n 360] [--seeds 1,2,3] [--sampler S] [--bits] [--out digits_quality.md]

Draws ``n`` samples from the run with each seed (its default sampler and steps), measures each set with
:func:`scorematch.metrics.digits.digit_quality` against the test digits, and writes a markdown table: the Fréchet
distance, the classes holding at least 5%, the mean confidence and the class shares, then the mean and spread over
the seeds, then the references of :func:`~scorematch.metrics.digits.digit_references` (``n`` real digits the
classifier never saw; ``n`` draws of a Gaussian fitted to the digits). ``--bits`` adds the bits per dimension of
the test digits (:func:`scorematch.metrics.digits.bits_per_dim`, one uniform dequantization with a fixed seed): the
run's by its log-likelihood (a diffusion run: the probability-flow ODE; an energy: SMC's log Z) next to a Gaussian's
and a 10-component Gaussian mixture's (scikit-learn, full covariances), fitted to the dequantized training digits
and evaluated on the same points.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from scorematch._infra.checkpoint import atomic_write
from scorematch.data import image_set
from scorematch.metrics.digits import N_REAL, bits_per_dim, digit_classifier, digit_quality, digit_references
from scorematch.runs.run import load_run


def _row(name: str, q) -> str:
    shares = " ".join(f"{h:.2f}" for h in q.histogram)
    return f"| {name} | {q.frechet:.2f} | {q.covered} | {q.confidence:.3f} | {shares} |"


def _bits(run) -> list[str]:
    """Bits/dim of the dequantized test digits: the run's, a Gaussian's and a Gaussian mixture's."""
    import math

    from sklearn.mixture import GaussianMixture

    g = torch.Generator().manual_seed(0)
    train = image_set("digits", "train", generator=g, dtype=torch.float64).flatten(1)
    test = image_set("digits", "test", generator=g, dtype=torch.float64)
    dim = test[0].numel()
    arrays, _ = run.evaluate(test.to(torch.float64), log_prob=True)
    rows = [("the run", torch.as_tensor(arrays["log_prob"], dtype=torch.float64))]
    for name, k in (("a Gaussian", 1), ("a Gaussian mixture (10 components)", 10)):
        gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, random_state=0).fit(train.numpy())
        rows.append((f"*{name}* (reference)", torch.from_numpy(gm.score_samples(test.flatten(1).numpy()))))
    lines = [f"Bits per dimension of the {test.shape[0]} test digits, dequantized once as (k + u)/17: "
             "−log p/(D log 2) + log₂ 17 (an upper bound on the discrete code length; 4.09 is a uniform guess).", "",
             "| model | bits/dim | ± se |", "|---|---|---|"]
    for name, log_p in rows:
        bpd = bits_per_dim(log_p, dim)
        lines.append(f"| {name} | {float(bpd.mean()):.3f} | {float(bpd.std() / math.sqrt(len(bpd))):.3f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--n", type=int, default=N_REAL, help=f"samples per seed, 2 to {N_REAL} (default {N_REAL})")
    p.add_argument("--seeds", default="1,2,3", help="sampler seeds, comma-separated (default 1,2,3)")
    p.add_argument("--out", type=Path, help="write the table there too (markdown)")
    p.add_argument("--sampler", default=None, help="the sampler (default: the run's)")
    p.add_argument("--bits", action="store_true", help="add bits/dim of the test digits, with references")
    args = p.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        if not seeds or not 2 <= args.n <= N_REAL:
            raise ValueError(f"give one or more seeds and 2 <= --n <= {N_REAL}")
        run = load_run(args.run)
        if run.event_shape[0] != 1 or not run.images:
            raise ValueError(f"{args.run} is not a run on grey images")
    except ValueError as e:
        sys.stderr.write(f"digits_quality: error: {e}\n")
        return 2
    classifier = digit_classifier()
    lines = [f"Samples of {args.run} ({run.config.objective}, {args.sampler or run.default_sampler()}), {args.n} per "
             "seed, read by "
             f"the digit classifier (test accuracy {classifier.test_accuracy:.3f}); Fréchet distance to the "
             "360 test digits.", "",
             "| samples | Fréchet distance | classes ≥ 5% | mean confidence | share of classes 0–9 |",
             "|---|---|---|---|---|"]
    measured = []
    for seed in seeds:
        x, _ = run.draw(args.n, seed=seed, sampler=args.sampler)
        measured.append(digit_quality(x.float(), classifier=classifier))
        lines.append(_row(f"seed {seed}", measured[-1]))
    fd = [q.frechet for q in measured]
    spread = f" ± {statistics.stdev(fd):.2f}" if len(fd) > 1 else ""
    lines.append(f"| **mean of {len(fd)}** | **{statistics.mean(fd):.2f}{spread}** | | "
                 f"{statistics.mean(q.confidence for q in measured):.3f} | |")
    for name, q in digit_references(args.n, size=run.event_shape[-1], classifier=classifier).items():
        lines.append(_row(f"*{name}* (reference)", q))
    if args.bits:
        lines += ["", *_bits(run)]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        atomic_write(args.out, text)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    raise SystemExit(main())
