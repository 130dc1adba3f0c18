"""Real tables as people have them: header names kept, columns chosen by name or number, a date column left out,
the delimiter detected, and one-line errors that say what to do."""

import numpy as np
import pytest
import torch

from scorematch.data import DataError, csv_header, load_table

RETURNS = "date,AAPL,MSFT,GOOG\n2024-01-02,0.011,-0.004,0.002\n2024-01-03,-0.007,0.009,0.001\n" \
          "2024-01-04,0.003,0.002,-0.010\n"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("columns", [["AAPL", "MSFT"], ["2", "3"], [2, 3]])
def test_columns_by_name_or_number_keep_their_names(tmp_path, columns):
    x, names = load_table(_write(tmp_path, "r.csv", RETURNS), columns=columns, dtype=torch.float64)
    assert names == ["AAPL", "MSFT"]
    torch.testing.assert_close(x, torch.tensor([[0.011, -0.004], [-0.007, 0.009], [0.003, 0.002]],
                                               dtype=torch.float64))


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_the_delimiter_is_detected(tmp_path, sep):
    x, names = load_table(_write(tmp_path, "r.csv", RETURNS.replace(",", sep)), columns=["GOOG", "AAPL"])
    assert names == ["GOOG", "AAPL"] and x.shape == (3, 2) and float(x[2, 0]) == pytest.approx(-0.010)
    assert csv_header(tmp_path / "r.csv") == ["date", "AAPL", "MSFT", "GOOG"]


def test_a_given_delimiter_wins(tmp_path):
    path = _write(tmp_path, "r.csv", "a b\n3 2\n1 4\n")  # (a first column 1, 3 would be read as row numbers)
    x, names = load_table(path, delimiter=" ")
    assert names == ["a", "b"] and x.tolist() == [[3.0, 2.0], [1.0, 4.0]]
    with pytest.raises(DataError, match="one character"):
        load_table(path, delimiter="ab")


def test_a_date_column_is_left_out_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match=r"left out 1 index-like column \(date\)"):
        x, names = load_table(_write(tmp_path, "r.csv", RETURNS))
    assert names == ["AAPL", "MSFT", "GOOG"] and x.shape == (3, 3)


@pytest.mark.parametrize("columns, message", [
    (["AAPL", "TSLA"], "no column 'TSLA'; its columns are: date, AAPL, MSFT, GOOG"),
    ([5], "column 5 does not exist; the file has 4 (numbered from 1)"),
    (["AAPL", "2"], "choose one or more distinct columns"),
    (["date"], "row 2, column 1 ('date'): '2024-01-02' is not a number"),
])
def test_bad_column_choices_are_one_line_errors(tmp_path, columns, message):
    with pytest.raises(DataError) as info:
        load_table(_write(tmp_path, "r.csv", RETURNS), columns=columns)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_numpy_files_take_column_numbers(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.arange(12.0).reshape(4, 3), y=np.zeros(3))
    x, names = load_table(tmp_path / "a.npz", key="x", columns=[3, 1])
    assert names is None and x.tolist() == [[2.0, 0.0], [5.0, 3.0], [8.0, 6.0], [11.0, 9.0]]
    with pytest.raises(DataError, match="it has no header: give column numbers"):
        load_table(tmp_path / "a.npz", key="x", columns=["AAPL"])


@pytest.fixture(scope="module")
def returns_run(tmp_path_factory):
    """A run trained from a ';'-separated table with a date column, on two named columns."""
    from scorematch.cli import main

    folder = tmp_path_factory.mktemp("returns")
    g = np.random.default_rng(0)
    rows = [f"2024-01-{i % 28 + 1:02d};{a:.5f};{b:.5f};{c:.5f}" for i, (a, b, c) in
            enumerate(g.normal(0, 0.01, size=(300, 3)))]
    (folder / "r.csv").write_text("date;AAPL;MSFT;GOOG\n" + "\n".join(rows) + "\n")
    assert main(["train", str(folder / "r.csv"), "--columns", "MSFT,AAPL", "--out", str(folder / "run"),
                 "--steps", "20", "--hidden", "8", "--quiet", "--judge", "off"]) == 0
    return folder


def test_a_run_keeps_the_columns_it_was_trained_on(returns_run):
    import json

    from scorematch.runs.run import load_run

    run = load_run(returns_run / "run")
    assert run.names == ["MSFT", "AAPL"] and run.config.columns == ("MSFT", "AAPL")
    assert json.loads((returns_run / "run" / "config.json").read_text())["columns"] == ["MSFT", "AAPL"]
    assert run.config.delimiter is None  # detected again, the same way, when the run is reproduced


def test_samples_and_eval_outputs_as_csv_with_the_names(returns_run):
    from scorematch.cli import main

    out = returns_run / "s.csv"
    assert main(["sample", str(returns_run / "run"), "--n", "50", "--steps", "5", "--out", str(out), "--quiet",
                 "--sampler", "mala"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "MSFT,AAPL" and len(lines) == 51 and len(lines[1].split(",")) == 2
    # the points file has the run's columns among others, in another order: they are picked by name
    assert main(["eval", str(returns_run / "run"), "--points", str(returns_run / "r.csv"), "--out",
                 str(returns_run / "e.csv")]) == 0
    table = (returns_run / "e.csv").read_text().splitlines()
    assert table[0] == "score_MSFT,score_AAPL,energy" and len(table) == 301
    from scorematch.runs.run import load_run

    run = load_run(returns_run / "run")
    x, _ = load_table(returns_run / "r.csv", columns=["MSFT", "AAPL"], dtype=torch.float64)
    first = [float(v) for v in table[1].split(",")]
    np.testing.assert_allclose(first[:2], run.score(x[:1])[0].numpy(), rtol=1e-6)  # a float32 model; z = W(x - m)/s


def test_plots_are_labelled_with_the_column_names():
    from scorematch.models.analytic import eight_gaussians
    from scorematch.plot import energy_landscape, samples_over_data, score_field

    target = eight_gaussians()
    x = target.sample(100, torch.Generator().manual_seed(0))
    for fig in (energy_landscape(target, data=x, resolution=20, labels=("AAPL", "MSFT")),
                score_field(target, n=5, labels=("AAPL", "MSFT")),
                samples_over_data(x, x, labels=("AAPL", "MSFT"))):
        ax = fig.axes[0]
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("AAPL", "MSFT")
    assert energy_landscape(target, resolution=20).axes[0].get_xlabel() == "$x_1$"


def test_an_output_of_another_type_is_refused_before_anything_runs(returns_run, capsys):
    from scorematch.cli import main

    with pytest.raises(SystemExit) as info:
        main(["sample", str(returns_run / "run"), "--n", "5", "--out", str(returns_run / "s.txt")])
    assert info.value.code == 2 and "must end in .npy or .csv" in capsys.readouterr().err
    assert not (returns_run / "s.txt").exists()


def test_compare_reads_a_table_with_the_same_options(returns_run):
    import json

    from scorematch.report import compare

    out = returns_run / "cmp"
    compare(str(returns_run / "r.csv"), ["dsm"], out, steps=20, hidden=8, sample_steps=10, progress=False,
            settings={"columns": ("AAPL", "GOOG"), "delimiter": ";"})
    stats = json.loads((out / "runs" / "dsm" / "data_stats.json").read_text())
    assert stats["columns"] == ["AAPL", "GOOG"]
    assert json.loads((out / "report.json").read_text())["objectives"][0]["final_quality"] is not None
