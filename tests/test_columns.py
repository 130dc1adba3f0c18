"""Choosing a table's columns as people have them: ranges, exclusions (``!`` or ``-``), names up to case, and the
index-like columns (row names, row numbers, dates, times) left out by default with one warning."""

import warnings

import numpy as np
import pytest
import torch

from commands import TINY, exit_code
from scorematch.data import DataError, load_table, match_columns

IRIS = "a,B,c,class,d\n0.1,1.0,2.0,x,3.0\n0.5,1.5,2.5,y,3.5\n0.3,1.2,2.2,x,3.2\n"


def _write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _quiet(path, **kw):
    """``load_table`` that must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_table(path, dtype=torch.float64, **kw)


@pytest.mark.parametrize("columns, expected", [
    (["2-3"], ["B", "c"]),
    (["1-2", "5"], ["a", "B", "d"]),
    (["5", "1 - 2"], ["d", "a", "B"]),
    (["!class"], ["a", "B", "c", "d"]),
    (["-class"], ["a", "B", "c", "d"]),
    (["-4"], ["a", "B", "c", "d"]),
    (["!4", "-a"], ["B", "c", "d"]),
    (["!3-4"], ["a", "B", "d"]),
    (["-3-5"], ["a", "B"]),
    (["1-5", "!class"], ["a", "B", "c", "d"]),
    (["d", "a", "-a"], ["d"]),
    (["2-5", "-4"], ["B", "c", "d"]),
    (["b", "A"], ["B", "a"]),
    (["-CLASS"], ["a", "B", "c", "d"]),
])
def test_ranges_exclusions_and_names_up_to_case(tmp_path, columns, expected):
    x, names = _quiet(_write(tmp_path, IRIS), columns=columns)
    assert names == expected
    full = np.array([[0.1, 1.0, 2.0, np.nan, 3.0], [0.5, 1.5, 2.5, np.nan, 3.5], [0.3, 1.2, 2.2, np.nan, 3.2]])
    np.testing.assert_array_equal(x.numpy(), full[:, [["a", "B", "c", "class", "d"].index(n) for n in expected]])


def test_numbers_ranges_and_exclusions_without_a_header(tmp_path):
    path = _write(tmp_path, "1,0.5,7,8\n2,0.1,6,9\n3,0.7,5,1\n")  # no header: a first column 1..n is data
    assert _quiet(path)[0].shape == (3, 4)
    assert _quiet(path, columns=["2-3"])[0][:, 0].tolist() == [0.5, 0.1, 0.7]
    assert _quiet(path, columns=["-1", "!4"])[0].tolist() == [[0.5, 7], [0.1, 6], [0.7, 5]]
    np.save(tmp_path / "a.npy", np.arange(12.0).reshape(3, 4))
    assert _quiet(tmp_path / "a.npy", columns=["-2"])[0].tolist() == [[0, 2, 3], [4, 6, 7], [8, 10, 11]]
    assert _quiet(tmp_path / "a.npy", columns=["2-3"])[0].tolist() == [[1, 2], [5, 6], [9, 10]]


def test_an_exact_name_wins_over_case_and_over_the_exclusion_reading(tmp_path):
    path = _write(tmp_path, "-x,x,X,y\n1,2,3,4\n0,6,7,8\n")
    assert _quiet(path, columns=["-x"])[1] == ["-x"]  # the column named '-x', not "all but x"
    assert _quiet(path, columns=["-y"])[1] == ["-x", "x", "X"]
    assert _quiet(path, columns=["X", "x"])[1] == ["X", "x"]
    assert _quiet(path, columns=["-X"])[1] == ["-x", "x", "y"]  # '-X' is no name: it leaves X out
    assert _quiet(_write(tmp_path, "-Q,y\n1,2\n0,6\n", "q.csv"), columns=["-q"])[1] == ["-Q"]  # no 'q': '-Q' up to case


@pytest.mark.parametrize("text, columns, message", [
    (IRIS, ["!TSLA"], "no column 'TSLA' to leave out ('!TSLA'); its columns are: a, B, c, class, d"),
    (IRIS, ["TSLA"], "no column 'TSLA'; its columns are: a, B, c, class, d"),
    (IRIS, ["2-9"], "column 9 (in '2-9') does not exist; the file has 5 (numbered from 1)"),
    (IRIS, ["-7"], "column 7 (in '-7') does not exist; the file has 5"),
    (IRIS, ["5-2"], "column range '5-2' runs backwards; write it 2-5"),
    (IRIS, ["!"], "column entry '!' names no column to leave out"),
    (IRIS, ["-1-5"], "choose one or more distinct columns, got ['-1-5']: none is left"),
    (IRIS, ["1-2", "2"], "choose one or more distinct columns, got ['1-2', '2']: column 2 ('B') is chosen twice"),
    (IRIS, [0], "column 0 does not exist; the file has 5 (numbered from 1)"),
    (IRIS, [], "choose one or more distinct columns, got []"),
    ("Xa,xA,y\n1,2,3\n0,5,6\n", ["xa"], "column 'xa' matches 'Xa' and 'xA', which differ only by case; write one"),
    ("Xa,xA,y\n1,2,3\n0,5,6\n", ["!XA"], "column '!XA' matches 'Xa' and 'xA'"),
    (IRIS, None, "row 2, column 4 ('class'): 'x' is not a number; choose the numeric columns with columns= "
                 "(--columns), e.g. --columns=-class leaves this one out"),
    ("class,x\na,1\na,2\nb,3\n", None, "row 2, column 1 ('class'): 'a' is not a number"),  # repeated: not row names
    (IRIS, ["class"], "row 2, column 4 ('class'): 'x' is not a number"),
])
def test_bad_choices_are_one_line_errors_naming_the_file(tmp_path, text, columns, message):
    path = _write(tmp_path, text)
    with pytest.raises(DataError) as info:
        _quiet(path, columns=columns)
    error = str(info.value)
    assert message in error and error.startswith(f"{path}: ") and "\n" not in error, error


R_CARS = '"","mpg","cyl"\n"Mazda RX4",21,6\n"Datsun 710",22.8,4\n"Valiant",18.1,6\n'


@pytest.mark.parametrize("text, left_out, kept", [
    ('"rownames","mpg","cyl"\n"1",21,6\n"2",22.8,4\n"3",18.1,6\n', "1 index-like column (rownames)", ["mpg", "cyl"]),
    ('"","mpg","cyl"\n"1",21,6\n"2",22.8,4\n"3",18.1,6\n', "1 index-like column (column 1)", ["mpg", "cyl"]),
    (R_CARS, "1 index-like column (column 1)", ["mpg", "cyl"]),
    ("model,mpg,cyl\nMazda RX4,21,6\nDatsun 710,22.8,4\nValiant,18.1,6\n", "1 index-like column (model)",
     ["mpg", "cyl"]),
    ("time,DAX,SMI\n1991.496,1628.75,1678.1\n1991.5,1613.63,1688.5\n1991.504,1606.51,1678.6\n",
     "1 index-like column (time)", ["DAX", "SMI"]),
    ("x,when,y\n0.5,1991-01-02,3\n0.1,1991-01-03,4\n0.7,1991-01-04 10:30,5\n", "1 index-like column (when)",
     ["x", "y"]),
    ("obs,x,y\n1,0.5,3\n2,0.1,4\n5,0.7,5\n", "1 index-like column (obs)", ["x", "y"]),
    ("x,at,y\n0.5,10:30,3\n0.1,10:31:05,4\n0.7,,5\n", "1 index-like column (at)", ["x", "y"]),
    ("Unnamed: 0,Date,x\n0,2024-01,0.5\n1,2024-02,0.1\n2,2024-03,0.7\n",
     "2 index-like columns (Unnamed: 0, Date)", ["x"]),
    ("rownames,time,x,y\n1,1991.496,0.5,3\n2,1991.5,0.1,4\n3,1991.504,0.7,5\n",
     "2 index-like columns (rownames, time)", ["x", "y"]),
])
def test_index_like_columns_are_left_out_with_one_warning(tmp_path, text, left_out, kept):
    path = _write(tmp_path, text)
    with pytest.warns(UserWarning) as caught:
        x, names = load_table(path, dtype=torch.float64)
    assert names == kept and x.shape == (3, len(kept))
    assert [str(w.message) for w in caught] == [f"{path}: left out {left_out}; name them in columns= (--columns) "
                                                "to keep them"]


def test_named_index_columns_are_kept_and_exclusions_keep_the_rule(tmp_path):
    path = _write(tmp_path, "rownames,x,y,class\n1,0.5,3,a\n2,0.1,4,b\n3,0.7,5,a\n")
    assert _quiet(path, columns=["rownames", "x"])[1] == ["rownames", "x"]
    with pytest.warns(UserWarning, match=r"left out 1 index-like column \(rownames\)"):
        assert load_table(path, columns=["-class"])[1] == ["x", "y"]
    assert _quiet(path, columns=["-class", "!rownames"])[1] == ["x", "y"]  # left out as asked: nothing to announce
    assert _quiet(path, columns=["1-3", "-2"])[1] == ["rownames", "y"]  # inclusions: no automatic rule
    with pytest.raises(DataError, match="none is left"):
        load_table(path, columns=["-x", "-y", "-class"])


def test_a_table_of_only_index_like_columns_keeps_them(tmp_path):
    assert _quiet(_write(tmp_path, "year,month\n1991,1\n1991,2\n1992,1\n"))[1] == ["year", "month"]
    x, names = _quiet(_write(tmp_path, "time\n1\n2\n3\n", "one.csv"))
    assert names == ["time"] and x[:, 0].tolist() == [1, 2, 3]


def test_numbers_and_headerless_tables_lose_nothing_but_dates(tmp_path):
    assert _quiet(_write(tmp_path, "x,y\n1,0.5\n3,0.1\n2,0.7\n"))[1] == ["x", "y"]  # not increasing: data
    assert _quiet(_write(tmp_path, "x,y\n1,0.5\n", "one-row.csv"), min_rows=1)[1] == ["x", "y"]
    path = _write(tmp_path, "1991-01-02,0.5,3\n1991-01-03,0.1,4\n", "dated.csv")
    with pytest.warns(UserWarning, match=r"left out 1 index-like column \(column 1\)"):
        x, names = load_table(path)
    assert names is None and x.shape == (2, 2)


def test_match_columns_finds_a_runs_columns_up_to_case():
    header = ["date", "MSFT", "AAPL", "goog"]
    assert match_columns(["AAPL", "MSFT"], header) == ["AAPL", "MSFT"]
    assert match_columns(["aapl", "GOOG"], header) == ["AAPL", "goog"]
    assert match_columns(["TSLA"], header) is None and match_columns(["AAPL"], None) is None
    assert match_columns(["x"], ["X", "x"]) == ["x"] and match_columns(["x"], ["X", "Y"]) == ["X"]
    assert match_columns(["y"], ["X", "Y", "y2", "yY"]) == ["Y"] and match_columns(["xx"], ["Xx", "xX"]) is None


def test_train_with_an_exclusion_on_the_command_line(tmp_path, capsys):
    g = np.random.default_rng(0)
    rows = [f'"{i + 1}",{a:.4f},{b:.4f},{"setosa" if i % 2 else "virginica"}'
            for i, (a, b) in enumerate(g.normal(size=(60, 2)))]
    data = _write(tmp_path, '"","Sepal.Length","Sepal.Width","Species"\n' + "\n".join(rows) + "\n", "iris.csv")
    assert exit_code("train", data, "--columns=-species", "--out", tmp_path / "run", *TINY) == 0
    err = capsys.readouterr().err
    assert err.count("scorematch: warning:") == 1 and "left out 1 index-like column (column 1)" in err, err
    from scorematch.runs.run import load_run

    run = load_run(tmp_path / "run")
    assert run.names == ["Sepal.Length", "Sepal.Width"] and run.config.columns == ("-species",)
    assert exit_code("train", data, "--columns=2-3", "--out", tmp_path / "run2", *TINY) == 0
    assert load_run(tmp_path / "run2").names == ["Sepal.Length", "Sepal.Width"]
