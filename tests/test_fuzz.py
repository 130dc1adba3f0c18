"""Property-based tests (hypothesis) of what users hand the tool: data files, run folders and command-line options.
Whatever the input, the answer is a result or one of the documented one-line errors — never another exception —
and a failed command writes nothing. The counts by outcome are printed by the last test (``pytest -s``)."""

import json
import shutil
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from commands import exit_code
from scorematch.data import DataError, load_table
from scorematch.runs.run import RunError, load_run

OUTCOMES: Counter = Counter()
FAST = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("fuzz") / "run"
    assert exit_code("train", "moons", "--out", run, "--steps", "5", "--hidden", "8", "--quiet", "--judge", "off") == 0
    return run


@FAST
@given(array=hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_, np.complex64]),
                        hnp.array_shapes(min_dims=0, max_dims=5, max_side=4)),
       suffix=st.sampled_from([".npy", ".npz", ".csv"]))
def test_numpy_arrays_load_or_fail_in_one_line(tmp_path_factory, array, suffix):
    path = tmp_path_factory.mktemp("f") / f"x{suffix}"
    if suffix == ".npy":
        np.save(path, array)
    elif suffix == ".npz":
        np.savez(path, a=array)
    else:
        path.write_text("\n".join(",".join(str(v) for v in np.atleast_1d(row).ravel()) for row in np.atleast_1d(array)))
    try:
        x, _ = load_table(path)
    except DataError as e:
        assert "\n" not in str(e) and str(path) in str(e)
        OUTCOMES["data file: one-line DataError"] += 1
        return
    assert x.ndim in (2, 4) and bool(np.isfinite(x.numpy()).all())
    OUTCOMES["data file: loaded"] += 1


@FAST
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.,;-e \tnaifNAIF\n\"x")), max_size=60))
def test_csv_text_loads_or_fails_in_one_line(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("c") / "x.csv"
    path.write_text(text)
    try:
        x, _ = load_table(path)
    except DataError as e:
        assert "\n" not in str(e)
        OUTCOMES["csv text: one-line DataError"] += 1
        return
    assert x.ndim == 2 and bool(np.isfinite(x.numpy()).all())
    OUTCOMES["csv text: loaded"] += 1


@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["config.json", "data_stats.json", "checkpoint/latest.json"]), value=JSON,
       key=st.sampled_from([None, "standardizer", "columns", "range", "hidden", "activation", "steps", "mean"]))
def test_damaged_run_json_is_a_run_error(trained, tmp_path_factory, name, value, key):
    copy = tmp_path_factory.mktemp("r") / "run"
    shutil.copytree(trained, copy)
    original = json.loads((copy / name).read_text())
    if key is not None and isinstance(original, dict):
        target = original.get("standardizer") if key == "mean" else original
        if isinstance(target, dict):
            target[key] = value
        value = original
    (copy / name).write_text(json.dumps(value))
    try:
        load_run(copy)
        OUTCOMES["run folder: loaded"] += 1
    except RunError as e:
        assert "\n" not in str(e)
        OUTCOMES["run folder: one-line RunError"] += 1


OPTIONS = ["--batch-size", "--lr", "--hidden", "--depth", "--sigma", "--n-probes", "--ema-decay",
           "--val-fraction", "--patience", "--clip-grad-norm", "--seed", "--weight-decay", "--standardize"]


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(OPTIONS),
       value=st.one_of(st.sampled_from(["0", "-1", "nan", "inf", "1e400", "off", "", "x", "1e18", "0.5", "auto"]),
                       st.integers(-10, 300).map(str), st.floats(-1e3, 1e3).map(str)))
def test_train_options_succeed_or_fail_in_one_line_and_write_nothing(tmp_path_factory, capsys, option, value):
    out = tmp_path_factory.mktemp("o") / "run"
    code = exit_code("train", "moons", "--out", out, "--steps", "2", "--hidden", "8", "--quiet", option, value)
    err = capsys.readouterr().err
    assert code in (0, 2, 3), (option, value, code, err)
    assert "Traceback" not in err
    if code != 0:
        assert not out.exists() or (out / "checkpoint" / "latest.json").is_file(), (option, value)
    OUTCOMES[f"train option: exit {code}"] += 1


CONFIG_KEYS = ["objective", "model", "sigma", "lr", "depth", "activation", "n_data", "val_fraction", "patience",
               "eval_every", "ema_decay", "standardize", "columns", "seed", "weight_decay", "checkpoint_every", "bogus"]
SCALARS = (st.none() | st.booleans() | st.integers(-5, 400) | st.floats(allow_nan=True) | st.text(max_size=6)
           | st.sampled_from(["esm", "dsm", "ncsn", "energy", "score", "conv", "tanh", "auto", "off", "channel"]))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=st.dictionaries(st.sampled_from(CONFIG_KEYS), SCALARS | st.lists(SCALARS, max_size=3), max_size=4))
def test_config_files_train_or_fail_in_one_line_and_write_nothing(tmp_path_factory, capsys, config):
    folder = tmp_path_factory.mktemp("c")
    (folder / "c.json").write_text(json.dumps(config))
    out = folder / "run"
    code = exit_code("train", "moons", "--out", out, "--config", folder / "c.json", "--steps", "2", "--hidden", "8",
                     "--batch-size", "16", "--quiet")
    err = capsys.readouterr().err
    assert code in (0, 2, 3), (config, code, err)
    assert "Traceback" not in err and (code == 0 or err.count("\n") == 1), (config, err)
    if code != 0:
        assert not out.exists() or (out / "checkpoint" / "latest.json").is_file(), config
    OUTCOMES[f"config file: exit {code}"] += 1


SAMPLE_OPTIONS = {"--n": ["0", "-3", "1", "7", "x", "1e3", ""], "--steps": ["0", "1", "3", "nan"],
                  "--step-size": ["0", "-1", "nan", "inf", "1e-3", "1e9", "0.5"], "--seed": ["0", "-1", "9" * 30, "x"],
                  "--sampler": ["smc", "pt", "mala", "hmc", "langevin", "annealed", "nope"], "--out": ["s.npy", "s.csv",
                                                                                                        "s.txt", ""]}


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=st.dictionaries(st.sampled_from(sorted(SAMPLE_OPTIONS)), st.integers(0, 6), min_size=1, max_size=4))
def test_sample_options_draw_or_fail_in_one_line_and_write_nothing(trained, tmp_path_factory, capsys, chosen):
    folder = tmp_path_factory.mktemp("s")
    args = []
    for option, i in chosen.items():
        value = SAMPLE_OPTIONS[option][i % len(SAMPLE_OPTIONS[option])]
        args += [option, str(folder / value) if option == "--out" and value else value]
    if "--n" not in chosen:
        args += ["--n", "5"]
    if "--steps" not in chosen:
        args += ["--steps", "3"]
    before = sorted(p.name for p in trained.iterdir())
    code = exit_code("sample", trained, *args, "--quiet")
    err = capsys.readouterr().err
    assert code in (0, 2, 3), (args, code, err)  # 3: SMC says the 5-step model cannot be normalised
    assert "Traceback" not in err and "internal error" not in err, (args, err)
    if code == 2:
        assert err.count("\n") == 1 and not list(folder.iterdir()), (args, err)
    if code == 3:
        assert "the model cannot be normalised" in err and not list(folder.iterdir()), (args, err)
    for p in trained.iterdir():  # a draw into the run folder itself is the default --out; remove it again
        if p.name not in before:
            p.unlink()
    OUTCOMES[f"sample options: exit {code}"] += 1


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["state.json", "rng.safetensors", "model.safetensors", "optimizer.safetensors"]),
       content=st.binary(max_size=40) | JSON.map(lambda v: json.dumps(v).encode()))
def test_damaged_checkpoint_files_resume_or_fail_in_one_line_and_leave_the_run(trained, tmp_path_factory, capsys,
                                                                               name, content):
    copy = tmp_path_factory.mktemp("k") / "run"
    shutil.copytree(trained, copy)
    next((copy / "checkpoint").glob("step-*")).joinpath(name).write_bytes(content)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file() and p.name != ".lock"}
    code = exit_code("train", "moons", "--out", copy, "--resume", "--steps", "8", "--quiet")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (name, content, code, err)
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file() and p.name != ".lock"} == before
    OUTCOMES["damaged checkpoint: one-line error, run unchanged"] += 1


def test_zz_counts_by_outcome():
    """Print how many cases ran, by outcome (every property above must have run)."""
    print("\nfuzz cases by outcome:", json.dumps(dict(sorted(OUTCOMES.items())), indent=1))
    assert sum(OUTCOMES.values()) > 0
