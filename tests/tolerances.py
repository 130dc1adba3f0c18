"""Per-dtype tolerances for comparisons that should agree to round-off."""

import torch

TOL = {
    torch.float64: dict(rtol=1e-10, atol=1e-10),
    torch.float32: dict(rtol=1e-4, atol=1e-5),
}


def assert_close(actual: torch.Tensor, expected: torch.Tensor, **override) -> None:
    """``torch.testing.assert_close`` with the tolerance of ``actual``'s dtype."""
    tol = {**TOL[actual.dtype], **override}
    torch.testing.assert_close(actual, expected.to(actual.dtype), **tol)
