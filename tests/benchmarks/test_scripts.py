"""Every benchmark script runs on this CPU at tiny sizes and prints each ratio next to its
target (the scripts are how speed goals are measured, so they must not rot). What
the ratios are is not checked here: speed is never asserted by a test."""

from __future__ import annotations

import re
import subprocess
import sys

import torch

from tests.conftest import REPO

#: A verdict line of `benchmarks.common.verdict`: label, ratio, target, met or not.
VERDICT = r"{label}\s+(\d+\.\d+)\s+target {target}\s+(met|NOT MET)$"


def run_script(name: str, *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name.removesuffix('.py')}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def ratio(output: str, label: str, target: str) -> float:
    """The ratio printed on ``label``'s verdict line (the test fails if there is none)."""
    pattern = VERDICT.format(label=re.escape(label), target=re.escape(target))
    found = re.search(pattern, output, flags=re.MULTILINE)
    assert found, f"no verdict line for {label!r} in:\n{output}"
    return float(found.group(1))


def test_harness_prints_overhead_scaling_and_a_resume_that_computes_nothing():
    output = run_script(
        "harness.py", "--contents", "1", "--styles", "2", "--size", "32", "--steps", "2"
    )
    assert ratio(output, "overhead: wall / compute (1 worker)", "<= 1.15") > 1.0
    ratio(output, "scaling: wall 1 worker on 1 core / 2 workers on 2", ">= 1.7")
    assert re.search(r"the hardware ceiling .* (\d+\.\d+)x measured before the runs", output)
    ratio(output, "resume: rerun of a finished run / first run", "<= 0.05")
    assert "no compute: Ray never started, journals unchanged" in output


def test_gatys_prints_the_step_ratio_and_bit_identical_batches():
    output = run_script(
        "gatys.py",
        "--size",
        "32",
        "--steps",
        "3",
        "--repeats",
        "1",
        "--batch",
        "2",
        "--variants",
        "default",
    )
    assert ratio(output, "ours (default) / plain", "<= 0.9") > 0
    share = re.search(r"plain step: time in convolution kernels +(\d+)%", output)
    assert share and 0 < int(share.group(1)) < 100
    assert "max pixel difference 0.00e+00" in output


def test_set_metrics_prints_the_ratio_to_torch_fidelity_and_values_that_agree():
    output = run_script("set_metrics.py", "--n", "6", "--size", "32", "--repeats", "1")
    assert ratio(output, "ours (cold cache) / torch-fidelity", "<= 1.0") > 0
    for name in ("fid", "kid"):
        found = re.search(rf"{name}: ours vs torch-fidelity .*\(difference (\S+)\)", output)
        assert found and float(found.group(1)) < 1e-3, output


def test_gpu_script_runs_on_cpu_when_asked_and_refuses_without_cuda_otherwise():
    output = run_script(
        "gpu.py",
        "--device",
        "cpu",
        "--size",
        "32",
        "--steps",
        "2",
        "--batch",
        "2",
        "--johnson-batch",
        "2",
        "--repeats",
        "1",
        "--variants",
        "default",
    )
    ratio(output, "default: s/image vs one H100 target", "<= 2")
    ratio(output, "float32 (the default)", ">= 1000")
    if torch.cuda.is_available():
        return
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode != 0 and "not yet measured" in done.stderr


def test_hardware_prints_the_parallel_ceiling():
    output = run_script("hardware.py", "--seconds", "1", "--repeats", "1")
    found = re.search(r"2 busy 1-thread processes / 1 alone: (\d+\.\d+)x", output)
    assert found and float(found.group(1)) > 0, output


def test_speed_settings_quality_prints_the_spread_over_seeds():
    output = run_script("speed_settings_quality.py", "--seeds", "1", "--methods", "johnson")
    for setting in ("bfloat16", "channels_last"):
        for loss in ("ContentLoss", "StyleLoss"):
            found = re.search(rf"johnson {setting} {loss}: median (\S+)%, largest (\S+)%", output)
            assert found and float(found.group(1)) <= float(found.group(2)), output
