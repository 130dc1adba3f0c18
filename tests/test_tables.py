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
    path = _write(tmp_path, "r.csv", "a b\n1 2\n3 4\n")
    x, names = load_table(path, delimiter=" ")
    assert names == ["a", "b"] and x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(DataError, match="one character"):
        load_table(path, delimiter="ab")


@pytest.mark.parametrize("columns, message", [
    (None, "row 2, column 1 ('date'): '2024-01-02' is not a number; choose the numeric columns with columns="),
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
