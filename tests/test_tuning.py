"""tune_cpu_allocator: applied under glibc, a harmless no-op elsewhere, and it changes no result."""

import platform
import subprocess
import sys

from scorematch import tune_cpu_allocator


def test_applies_under_glibc_only():
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert tune_cpu_allocator() is glibc


def test_results_do_not_depend_on_it():
    """The same computation in two fresh processes, one tuned first: bit-identical results (in this process the
    allocator may already be tuned by an earlier test, so the comparison needs processes of its own)."""
    script = ("import hashlib, torch; from scorematch import tune_cpu_allocator\n"
              "if {tune}: tune_cpu_allocator()\n"
              "torch.manual_seed(0); a, b = torch.randn(256, 128), torch.randn(128, 128)\n"
              "print(hashlib.sha256(torch.tanh(a @ b).sum(0).numpy().tobytes()).hexdigest())")
    outputs = [subprocess.run([sys.executable, "-c", script.format(tune=tune)], capture_output=True, text=True,
                              check=True).stdout for tune in (False, True)]
    assert outputs[0] == outputs[1] and len(outputs[0].strip()) == 64
