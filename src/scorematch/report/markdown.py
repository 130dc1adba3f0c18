"""``report.md`` of a comparison: the table, quality against time, the reference, what each column means, and per
method what could not be measured (with why), divergence, the sampler's warnings and the mode check."""

from __future__ import annotations

from typing import Any

from ..samplers.named import SAMPLERS
from .console import fmt
from .measures import C2ST_GOOD

__all__ = ["markdown"]


def _table(cols: list[tuple[str, str, str]], rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| " + " | ".join(c[0] for c in cols) + " |", "|" + "---|" * len(cols)]
    return lines + ["| " + " | ".join(fmt(r.get(key), spec) for _, key, spec in cols) + " |" for r in rows]


def _time_table(rows: list[dict[str, Any]], truth: bool, target: float | None) -> list[str]:
    shown = [{**r, "_diverged": r.get("diverged") or r.get("energy_runaway") or "no",
              "_reached": (f"{r['seconds_to_target']:.2f}" if r.get("seconds_to_target") is not None
                           else "not reached") if truth else None} for r in rows]
    cols = [("method", "objective", "s"), ("family", "family", "s"), ("ms/step", "ms_per_step", ".2f"),
            ("train s", "train_seconds", ".1f")]
    if truth:
        cols += [(f"s to rel. Fisher ≤ {target:g}", "_reached", "s"), ("final rel. Fisher", "final_quality", ".3f")]
    else:
        cols += [("final held-out Hyvärinen", "final_quality", ".4g")]
    cols += [("diverged", "_diverged", "s"), ("MMD²", "mmd2", ".2e"), ("C2ST acc", "c2st", ".3f")]
    if truth:
        cols += [("KL grid", "kl_grid", ".3f")]
    cols += [("mode TV", "mode_tv", ".3f")]
    return _table(cols, shown)


def _digit_section(rows: list[dict[str, Any]], references: dict[str, dict[str, Any]], accuracy: float | None
                   ) -> list[str]:
    """The samples' quality read by the digit classifier (:mod:`scorematch.metrics.digits`), references last."""
    shown = [{"method": r["objective"], **(r.get("digits") or {})} for r in rows]
    shown += [{"method": f"*{name}* (reference)", **q} for name, q in references.items()]
    for r in shown:
        r["classes"] = " ".join(f"{h:.2f}" for h in r["histogram"]) if r.get("histogram") else None
    cols = [("method", "method", "s"), ("Fréchet distance", "frechet", ".2f"), ("classes ≥ 5%", "covered", "d"),
            ("mean confidence", "confidence", ".3f"), ("share of classes 0–9", "classes", "s")]
    return ["", "## Digits, read by a classifier", "",
            "A small convolutional classifier trained on real training digits (test accuracy "
            f"{fmt(accuracy, '.3f')}) reads each method's samples: the Fréchet distance between their features and the test "
            "digits' (lower is better; the real-digits reference is the floor, the Gaussian's the scale), the share "
            "of samples in each class (real digits: about 0.10 each) and the mean probability of the class chosen.",
            "", *_table(cols, shown)]


def markdown(data: str, steps: int | None, model: str, seed: int, rows: list[dict[str, Any]], reference: dict[str, float],
             truth: bool, n_test: int, figure: bool, target: float | None = None, losses: bool = True) -> str:
    cols = [("method", "objective", "s"), ("steps", "steps_done", "d"), ("kept step", "best_step", "d"),
            ("ms/step", "ms_per_step", ".1f"), ("train s", "train_seconds", ".1f"),
            ("sample s", "sample_seconds", ".1f"), ("final loss", "final_loss", ".4g"), ("MMD²", "mmd2", ".2e"),
            ("C2ST acc", "c2st", ".3f")]
    if truth:
        cols += [("rel. Fisher", "rel_fisher", ".3f"), ("KL(p‖q) grid", "kl_grid", ".3f")]
    cols += [("test log-lik (grid)", "test_loglik_grid", ".3f"), ("sampler", "sampler", "s"),
             ("converged", "sampler_trusted", "s"), ("mode TV", "mode_tv", ".3f")]
    if any("weights_tv" in r for r in rows):
        cols += [("weights TV (truth)", "weights_tv", ".3f")]
    lines = [f"# scorematch compare: {data}", "",
             f"{len(rows)} methods, {model} models, " + (f"{steps} steps each" if steps is not None else "each method's own "
             "steps (its defaults)") + f", seed {seed}; samples from each model's "
             f"default sampler (Langevin for the estimators), measured against {n_test} held-out points, in data "
             "units.", "", *_table(cols, rows),
             "", "Verdicts, kept apart: whether each sampler converged (its own diagnostics; unchecked for samplers "
             "without any) and whether the fit is good (every measured judge passes: "
             + (f"relative Fisher divergence ≤ {target:g}, the samples' share per true component within 2.5 times "
                "its sampling noise of the exact weights, " if truth else "")
             + f"C2ST ≤ {C2ST_GOOD}):", "",
             *_table([("method", "objective", "s"), ("sampler", "_sampler", "s"), ("fit", "_fit", "s")],
                     [{"objective": r["objective"], "_sampler": r.get("verdict", {}).get("sampler"),
                       "_fit": r.get("verdict", {}).get("fit")} for r in rows]),
             "", f"Reference (training data against held-out data): MMD² {reference['mmd2']:.2e}, "
             f"C2ST accuracy {reference['c2st']:.3f} — the best a model's samples can do.",
             "", "MMD²: unbiased, Gaussian kernel, median bandwidth (≈ 0 when the laws agree). C2ST: held-out accuracy "
             "of a classifier telling samples from data (0.5 = indistinguishable). Steps: done (fewer than the "
             "budget when the held-out criterion stopped improving); kept step: the weights kept — for energies the best "
             "held-out log-likelihood among the best by the held-out Hyvärinen loss and the weights at ¼, ½ and ¾ of "
             "training, otherwise the best by the held-out Hyvärinen loss — on 10% of the training data."]
    overfit = [f"{r['objective']} (from step {r['overfit_step']})" for r in rows if r.get("overfit_step")]
    if overfit:
        lines += [f"Overfitting was seen — the held-out loss rose while the training loss fell — for "
                  f"{', '.join(overfit)}; their best weights were kept."]
    if truth:
        lines += ["Rel. Fisher: E‖s − s*‖² / E‖s*‖² at held-out points against the exact score. KL(p‖q): exact "
                  "density p against the model's density normalised on the plotting box (energy models)."]
    lines += ["", "## Quality against time", "",
              "Each method's quality on the held-out points, measured at regular training times (evaluations not "
              "counted): " + ("the relative Fisher divergence against the exact score; the time to reach "
                              f"{target:g} is the first measurement at or below it." if truth else
                              "the held-out Hyvärinen loss (the Fisher divergence up to a constant, no truth needed)."
                              ) + " Estimators have no training: their time is the time to build them. "
              "Diverged: a non-finite loss or gradient (training stops), or energies spreading over more than "
              "10³ nats on the test points.", "", *_time_table(rows, truth, target), "",
              "![quality against time](quality.png)"]
    nce = [r for r in rows if r.get("log_z_learned") is not None]
    if nce:
        lines += ["", "Learned log-normalizer against annealed importance sampling (AIS, 512 chains, 300 temperatures) "
                  "of the same energy, and the test log-likelihood each gives:", "",
                  *_table([("method", "objective", "s"), ("learned log Z", "log_z_learned", ".3f"),
                           ("AIS log Z", "log_z_ais", ".3f"), ("± se", "log_z_ais_se", ".3f"),
                           ("test log-lik (learned)", "test_loglik_nce", ".3f"),
                           ("test log-lik (AIS)", "test_loglik_ais", ".3f")], nce)]
    if "digits" in reference:
        lines += _digit_section(rows, reference["digits"], reference.get("digit_classifier_accuracy"))
    lines += ["", "Sampler: each model's default (SMC for energies: the right weights between modes; Langevin for "
              "score models). Converged: no warning from its diagnostics (acceptance, R̂ and ESS over chains, SMC's "
              "weights). Mode TV: total variation between the model's density mass per mode"
              + (" (the exact mixture's components)" if truth else " (8 k-means cells of the data)")
              + " and its samples' — small when the samples show the model, not the sampler."
              + (" Weights TV (truth): total variation between the samples' share per component of the exact "
                 "mixture and its weights — small when model and sampler together get the weights right."
                 if any("weights_tv" in r for r in rows) else "")]
    for r in rows:
        if r.get("missing"):
            lines.append(f"- {r['objective']}: {r['missing']}")
        if r.get("energy_runaway"):
            lines.append(f"- {r['objective']}: {r['energy_runaway']}")
        for w in r.get("sampler_warnings", []):
            lines.append(f"- {r['objective']}: sampler warning: {w}")
        if r.get("modes_agree") is False:
            lines.append(f"- {r['objective']}: the samples' mass per mode differs from the density's (TV "
                         f"{r['mode_tv']:.3f} > {r['mode_tv_limit']:.3f}): do not judge this model by its samples")
        if r.get("sampler") in SAMPLERS and not SAMPLERS[r["sampler"]].judged:
            lines.append(f"- {r['objective']}: {r['sampler_notes'][0]}")
    if figure:
        lines += ["", "![comparison of methods](comparison.png)"]
    if losses:
        lines += ["", "![training losses](losses.png)"]
    return "\n".join([*lines, ""])
