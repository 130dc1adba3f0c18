"""Built-in data sets, file loaders (round trips and one-line errors) and the Standardizer."""

import json
import math

import numpy as np
import pytest
import torch

from scorematch.data import DATASETS, DataError, Standardizer, load_array, load_data, make_dataset
from scorematch.models.analytic import ANALYTIC, Gaussian

from tolerances import assert_close


def _seed(s):
    return torch.Generator().manual_seed(s)


# ---------------------------------------------------------------- built-in sets

def test_the_usual_sets_are_built_in():
    assert set(DATASETS) == {"8gaussians", "checkerboard", "swissroll", "pinwheel", "2spirals", "rings", "moons",
                             "circles"}


@pytest.mark.parametrize("name", DATASETS)
def test_builtin_set_shape_range_and_reproducibility(name):
    x = make_dataset(name, 5000, generator=_seed(0))
    assert x.shape == (5000, 2) and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert x.abs().max() < 5
    assert (x.abs() <= 4).all(1).float().mean() > 0.999           # about [-4, 4]², like the usual versions
    assert x.std(0).min() > 0.2                                    # spread out, not collapsed
    assert torch.equal(x, make_dataset(name, 5000, generator=_seed(0)))
    assert not torch.equal(x, make_dataset(name, 5000, generator=_seed(1)))
    # drawn in float64 and cast: the dtype changes the rounding, not the draw
    assert torch.equal(make_dataset(name, 100, generator=_seed(2), dtype=torch.float64).float(),
                       make_dataset(name, 100, generator=_seed(2)))


@pytest.mark.parametrize("name", sorted(ANALYTIC))
def test_sets_with_a_density_are_drawn_from_their_target(name):
    # Stein's identity E_p[s(x) xᵀ] = −I and E_p[s(x)] = 0 hold for the exact score s of p and no other law:
    # samples from another density (a wrong sampler, a wrong scale) fail it
    target = ANALYTIC[name](dtype=torch.float64)
    x = make_dataset(name, 40_000, generator=_seed(3), dtype=torch.float64)
    s = target.score(x)
    outer = s[:, :, None] * x[:, None, :]
    for values, expected in ((outer, -torch.eye(2, dtype=torch.float64)), (s, torch.zeros(2, dtype=torch.float64))):
        se = values.std(0) / math.sqrt(len(x))
        assert ((values.mean(0) - expected).abs() < 5 * se).all(), (name, values.mean(0), se)
    wrong = 1.3 * x   # the same set, stretched: the identity fails
    outer = target.score(wrong)[:, :, None] * wrong[:, None, :]
    assert ((outer.mean(0) + torch.eye(2, dtype=torch.float64)).abs() > 5 * outer.std(0) / math.sqrt(len(x))).any()


@pytest.mark.parametrize("name", ["8gaussians", "pinwheel", "2spirals", "rings", "circles"])
def test_symmetric_sets_have_mean_zero(name):
    x = make_dataset(name, 50_000, generator=_seed(4), dtype=torch.float64)
    assert (x.mean(0).abs() < 4.5 * x.std(0) / math.sqrt(len(x))).all()


def test_checkerboard_fills_the_dark_squares_evenly():
    n = 40_000
    x = make_dataset("checkerboard", n, generator=_seed(5), dtype=torch.float64)
    cells = torch.floor(x / 2).long()                               # 4 × 4 board of side-2 squares
    assert ((cells.sum(1) % 2) == 0).all()
    counts = torch.bincount(((cells[:, 0] + 2) * 4 + cells[:, 1] + 2), minlength=16)
    filled = counts[counts > 0].double() / n
    assert len(filled) == 8 and (filled - 1 / 8).abs().max() < 4.5 * math.sqrt(1 / 8 * 7 / 8 / n)


def test_moons_lie_on_two_half_circles_of_radius_two():
    x = make_dataset("moons", 20_000, generator=_seed(6), dtype=torch.float64)
    upper = (x - torch.tensor([-1.0, -0.2])).norm(dim=1) - 2
    lower = (x - torch.tensor([1.0, 0.8])).norm(dim=1) - 2
    gap = torch.minimum(upper.abs(), lower.abs())                  # noise N(0, 0.2²) off the arcs
    assert gap.median() < 0.2 and gap.quantile(0.99) < 0.6
    # the two moons are images of each other under the point reflection through (0, 0.3)
    assert ((x.mean(0) - torch.tensor([0.0, 0.3])).abs() < 4.5 * x.std(0) / math.sqrt(len(x))).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(name="mooons", n=10), "unknown data set 'mooons'; choose one of: 8gaussians, checkerboard"),
        (dict(name="moons", n=0), "n must be an integer >= 1, got 0"),
        (dict(name="moons", n=2.5), "n must be an integer >= 1"),
        (dict(name="moons", n=10, dtype=torch.int64), "dtype must be a floating-point dtype"),
    ],
)
def test_make_dataset_rejects_bad_arguments(kwargs, message):
    name, n = kwargs.pop("name"), kwargs.pop("n")
    with pytest.raises(ValueError, match=message):
        make_dataset(name, n, **kwargs)


# ---------------------------------------------------------------- loaders: round trips

X = np.array([[0.1, -2.5, 3.0], [1e-300, 7.25, -0.3333333333333333], [5.0, 6.0, 1 / 7]])


def test_npy_and_npz_round_trip(tmp_path):
    np.save(tmp_path / "x.npy", X)
    assert torch.equal(load_array(tmp_path / "x.npy", dtype=torch.float64), torch.from_numpy(X))
    assert load_array(str(tmp_path / "x.npy")).dtype == torch.float32
    np.savez(tmp_path / "one.npz", data=X)
    assert torch.equal(load_array(tmp_path / "one.npz", dtype=torch.float64), torch.from_numpy(X))
    np.savez(tmp_path / "two.npz", a=X, b=2 * X[:, :2])
    assert torch.equal(load_array(tmp_path / "two.npz", key="b", dtype=torch.float64), torch.from_numpy(2 * X[:, :2]))
    np.save(tmp_path / "v.npy", np.arange(4))                  # 1-D: n samples of one column; integers are fine
    assert torch.equal(load_array(tmp_path / "v.npy", dtype=torch.float64), torch.arange(4.0)[:, None])


def test_csv_round_trip_with_and_without_header(tmp_path):
    np.savetxt(tmp_path / "plain.csv", X, delimiter=",", fmt="%.17g")
    np.savetxt(tmp_path / "header.csv", X, delimiter=",", fmt="%.17g", header="a,b,c", comments="")
    for name in ("plain.csv", "header.csv"):
        assert torch.equal(load_array(tmp_path / name, dtype=torch.float64), torch.from_numpy(X))
    # spaces, blank lines, Windows line ends, a byte-order mark and quoted cells are all fine
    (tmp_path / "messy.csv").write_bytes('\ufeff"x", y\r\n\r\n 1.5 , 2\r\n"3",-4e-1\r\n\r\n'.encode())
    assert torch.equal(load_array(tmp_path / "messy.csv", dtype=torch.float64),
                       torch.tensor([[1.5, 2.0], [3.0, -0.4]]))


# ---------------------------------------------------------------- loaders: errors

def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content, allow_pickle=True)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


BAD = [
    # (file name, content, expected message after "<path>: ")
    ("cell.csv", "x,y\n1,2\n3,abc\n", "row 3, column 2 ('y'): 'abc' is not a number; choose the numeric columns"),
    ("cell-no-header.csv", "1,2\n\n3,4\n5,,\n", "row 4 has 3 columns, expected 2 (as row 1; delimiter ',')"),
    ("empty-cell.csv", "1,2\n3, \n", "row 2, column 2: '' is not a number"),
    ("mixed-first.csv", "1,y\n3,4\n", "row 1, column 2: 'y' is not a number"),
    ("nan.csv", "a,b\n1,2\n\n3,nan\n", "row 4, column 2: value nan is not finite"),
    ("inf.csv", "1,-inf\n3,4\n", "row 1, column 2: value -inf is not finite"),
    ("ragged.csv", "a,b\n1,2\n3\n", "row 3 has 1 column, expected 2 (as row 1; delimiter ',')"),
    ("empty.csv", "", "empty file"),
    ("blank.csv", "\n \n", "empty file"),
    ("header-only.csv", "a,b\n", "only a header row, no data"),
    ("one-row.csv", "x,y\n1,2\n", "only 1 row; need at least 2 samples"),
    ("overflow.csv", "1,2\n1e300,4\n", "row 2, column 1: value 1e+300 overflows float32"),
    ("latin1.csv", "1,2\n3,\xe9\n".encode("latin-1"), "not UTF-8 text (byte 7)"),
    ("nan.npy", np.array([[1.0, 2.0], [3.0, np.nan]]), "row 2, column 2: value nan is not finite"),
    ("cube.npy", np.zeros((2, 2, 2, 2, 2)),
     r"need a table (n samples, d columns) or images (n, c, h, w) or (n, h, w); got shape (2, 2, 2, 2, 2)"),
    ("scalar.npy", np.array(3.0), "need a table (n samples, d columns) or images (n, c, h, w) or (n, h, w); got shape ()"),
    ("no-rows.npy", np.zeros((0, 3)), "empty array of shape (0, 3)"),
    ("one-row.npy", np.zeros((1, 3)), "only 1 row; need at least 2 samples"),
    ("text.npy", np.array([["a", "b"], ["c", "d"]]), "holds <U1 values; need real numbers"),
    ("complex.npy", np.ones((2, 2), dtype=complex), "holds complex128 values; need real numbers"),
    ("objects.npy", np.array([[1, None], [2, 3]], dtype=object), "not a readable NumPy file of numbers"),
    ("garbage.npy", b"not an array at all", "not a readable NumPy file of numbers"),
    ("data.txt", "1,2\n3,4\n", "unknown file type '.txt'; use one of .npy, .npz, .csv"),
    ("noext", "1,2\n3,4\n", "unknown file type '(no extension)'"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_raise_one_line_data_errors(tmp_path, name, content, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(DataError) as info:
        load_array(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and message in text, text
    assert isinstance(info.value, ValueError)


def test_npz_keys_and_missing_files(tmp_path):
    np.savez(tmp_path / "two.npz", a=X, b=X)
    np.savez(tmp_path / "none.npz")
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "folder.npy").mkdir()
    cases = [
        (dict(path=tmp_path / "two.npz"), "the archive holds 2 arrays (a, b); pass key= one of them"),
        (dict(path=tmp_path / "two.npz", key="c"), "no array 'c' in the archive; it holds: a, b"),
        (dict(path=tmp_path / "none.npz"), "the archive holds no arrays"),
        (dict(path=tmp_path / "x.npy", key="a"), "key='a' applies to .npz archives"),
        (dict(path=tmp_path / "missing.csv"), "no such file"),
        (dict(path=tmp_path / "folder.npy"), "not a file"),
    ]
    for kwargs, message in cases:
        with pytest.raises(DataError) as info:
            load_array(**kwargs)
        text = str(info.value)
        assert "\n" not in text and text.startswith(f"{kwargs['path']}: ") and message in text, text
    np.savez(tmp_path / "bad.npz", a=X, b=np.array([[1.0, np.inf], [0.0, 0.0]]))
    with pytest.raises(DataError, match=r"bad\.npz\[b\]: row 1, column 2: value inf is not finite"):
        load_array(tmp_path / "bad.npz", key="b")


def test_load_data_takes_a_name_or_a_file(tmp_path):
    assert torch.equal(load_data("moons", n=50, generator=_seed(0)), make_dataset("moons", 50, generator=_seed(0)))
    assert load_data("rings").shape == (10_000, 2)
    np.save(tmp_path / "x.npy", np.arange(20.0).reshape(10, 2))
    assert load_data(tmp_path / "x.npy").shape == (10, 2)
    part = load_data(str(tmp_path / "x.npy"), n=4, generator=_seed(1))
    assert part.shape == (4, 2) and len(set(part[:, 0].tolist())) == 4
    assert torch.equal(part, load_data(tmp_path / "x.npy", n=4, generator=_seed(1)))
    with pytest.raises(DataError, match="n=11 samples asked for, it has 10"):
        load_data(tmp_path / "x.npy", n=11)
    with pytest.raises(DataError, match="unknown data set or file 'moon': choose one of 8gaussians, "):
        load_data("moon")


# ---------------------------------------------------------------- Standardizer

def _data():
    g = _seed(7)
    return torch.randn(500, 3, generator=g) * torch.tensor([0.01, 3.0, 1e4]) + torch.tensor([5.0, -2.0, 1e5])


def test_standardizer_fits_and_inverts_to_round_off():
    x = _data()
    st = Standardizer.fit(x)
    z = st.transform(x)
    assert_close(z.mean(0), torch.zeros(3), atol=1e-12, rtol=0)
    assert_close(z.std(0, correction=0), torch.ones(3), atol=1e-12, rtol=0)
    back = st.inverse(z)
    scale = x.abs().max(0).values
    assert ((back - x).abs() <= 4 * torch.finfo(torch.float64).eps * scale).all()
    assert st.transform(x.float()).dtype == torch.float32


def test_standardizer_dict_round_trip_is_exact_through_json():
    st = Standardizer.fit(_data())
    again = Standardizer.from_dict(json.loads(json.dumps(st.to_dict())))
    assert again == st and again.mean == st.mean and again.std == st.std
    with pytest.raises(ValueError, match=r"'std' \(and optionally 'event_shape', 'whiten'\); got \['mean', 'scale'\]"):
        Standardizer.from_dict({"mean": [0.0], "scale": [1.0]})


def test_standardizer_maps_score_and_log_density_to_data_units():
    st = Standardizer.fit(_data())
    g = _seed(8)
    a = torch.randn(3, 3, generator=g)
    on_z = Gaussian(torch.randn(3, generator=g), a @ a.T + torch.eye(3))
    x = st.inverse(torch.randn(20, 3, generator=g)).requires_grad_(True)
    log_px = st.log_prob_to_data(on_z.log_prob(st.transform(x)))
    (grad,) = torch.autograd.grad(log_px.sum(), x)
    assert_close(st.score_to_data(on_z.score(st.transform(x.detach()))), grad)
    # the same density written directly in data units: N(m + s μ, diag(s) Σ diag(s))
    m, s = torch.tensor(st.mean), torch.tensor(st.std)
    on_x = Gaussian(m + s * on_z.mean, s[:, None] * on_z.cov * s[None, :])
    assert_close(log_px.detach(), on_x.log_prob(x.detach()), rtol=1e-9, atol=1e-9)
    assert_close(st.energy_to_data(on_z.energy(st.transform(x.detach()))), -log_px.detach())


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Standardizer.fit(torch.tensor([[1.0, 2.0], [1.0, 3.0]])),
         r"column 1 is constant \(1.0\); its std is 0"),
        (lambda: Standardizer.fit(torch.zeros(1, 2)), r"x must have shape \(n, ...\) with n >= 2"),
        (lambda: Standardizer((0.0, 1.0), (1.0, 0.0)), "std must be finite and > 0 in every column; column 2 has 0.0"),
        (lambda: Standardizer((0.0,), (1.0, 2.0)), "of one length"),
        (lambda: Standardizer((math.nan,), (1.0,)), "mean must be finite"),
        (lambda: Standardizer((0.0,), (1.0,)).transform(torch.zeros(4, 2)), r"expected samples of shape \(1,\)"),
    ],
)
def test_standardizer_rejects_bad_statistics(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_whitening_gives_identity_covariance_and_exact_densities_and_scores():
    """z = W(x − m)/s: identity covariance; log p_x of N(0, I) in z equals the exact Gaussian of x (its MLE mean and
    covariance) and the score (Wᵀ∇z)/s equals −Σ⁻¹(x − μ); to_dict round-trips exactly; inverse undoes it."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)
    x = torch.randn(500, 3, generator=g, dtype=torch.float64) @ a.T * torch.tensor([1.0, 100.0, 0.01]) + 5
    st = Standardizer.fit(x, "whiten")
    z = st.transform(x)
    torch.testing.assert_close(torch.cov(z.T, correction=0), torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(st.inverse(z), x)
    mu, cov = x.mean(0), torch.cov(x.T, correction=0)
    exact = torch.distributions.MultivariateNormal(mu, cov).log_prob(x)
    mine = -0.5 * z.square().sum(1) - 1.5 * math.log(2 * math.pi) - st.log_scale
    torch.testing.assert_close(mine, exact)
    torch.testing.assert_close(st.score_to_data(-z), -torch.linalg.solve(cov, (x - mu).T).T)
    again = Standardizer.from_dict(json.loads(json.dumps(st.to_dict())))
    assert again == st
    collinear = torch.cat([x, x[:, :1] + x[:, 1:2]], 1)  # a sum of two others: floored, still invertible
    assert math.isfinite(Standardizer.fit(collinear, "whiten").log_scale)
    with pytest.raises(ValueError, match="applies to tables"):
        Standardizer.fit(torch.zeros(4, 1, 2, 2), "whiten")
