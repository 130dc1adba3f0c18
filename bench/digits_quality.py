"""The sample quality of an image run on the digits, read by the digit classifier, next to its references.

    python bench/digits_quality.py RUN [--n 360] [--seeds 1,2,3] [--out digits_quality.md]

Draws ``n`` samples from the run with each seed (its default sampler and steps), measures each set with
:func:`scorematch.metrics.digits.digit_quality` against the test digits, and writes a markdown table: the Fréchet
distance, the classes holding at least 5%, the mean confidence and the class shares, then the mean and spread over
the seeds, then the references of :func:`~scorematch.metrics.digits.digit_references` (``n`` real digits the
classifier never saw; ``n`` draws of a Gaussian fitted to the digits).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from scorematch._infra.checkpoint import atomic_write
from scorematch.metrics.digits import N_REAL, digit_classifier, digit_quality, digit_references
from scorematch.runs.run import load_run


def _row(name: str, q) -> str:
    shares = " ".join(f"{h:.2f}" for h in q.histogram)
    return f"| {name} | {q.frechet:.2f} | {q.covered} | {q.confidence:.3f} | {shares} |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--n", type=int, default=N_REAL, help=f"samples per seed, 2 to {N_REAL} (default {N_REAL})")
    p.add_argument("--seeds", default="1,2,3", help="sampler seeds, comma-separated (default 1,2,3)")
    p.add_argument("--out", type=Path, help="write the table there too (markdown)")
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
    lines = [f"Samples of {args.run} ({run.config.objective}, {run.default_sampler()}), {args.n} per seed, read by "
             f"the digit classifier (test accuracy {classifier.test_accuracy:.3f}); Fréchet distance to the "
             "360 test digits.", "",
             "| samples | Fréchet distance | classes ≥ 5% | mean confidence | share of classes 0–9 |",
             "|---|---|---|---|---|"]
    measured = []
    for seed in seeds:
        x, _ = run.draw(args.n, seed=seed)
        measured.append(digit_quality(x.float(), classifier=classifier))
        lines.append(_row(f"seed {seed}", measured[-1]))
    fd = [q.frechet for q in measured]
    spread = f" ± {statistics.stdev(fd):.2f}" if len(fd) > 1 else ""
    lines.append(f"| **mean of {len(fd)}** | **{statistics.mean(fd):.2f}{spread}** | | "
                 f"{statistics.mean(q.confidence for q in measured):.3f} | |")
    for name, q in digit_references(args.n, size=run.event_shape[-1], classifier=classifier).items():
        lines.append(_row(f"*{name}* (reference)", q))
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        atomic_write(args.out, text)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    raise SystemExit(main())
