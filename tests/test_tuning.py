"""tune_cpu_allocator: applied under glibc, a harmless no-op elsewhere, and it changes no result."""

import platform
import sys

import torch

from scorematch import tune_cpu_allocator


def test_applies_under_glibc_only():
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert tune_cpu_allocator() is glibc


def test_results_do_not_depend_on_it():
    torch.manual_seed(0)
    a, b = torch.randn(256, 128), torch.randn(128, 128)
    before = torch.tanh(a @ b).sum(0)
    tune_cpu_allocator()
    assert torch.equal(torch.tanh(a @ b).sum(0), before)
