"""Gatys' optimisation step against a plain PyTorch implementation, and batched optimisation.

    uv run python -m benchmarks.gatys [--size 64] [--steps 20] [--repeats 3] [--batch 8]
        [--variants default,channels_last] [--weights random|pretrained|PATH]
        [--device cuda|cpu] [--threads N] [--skip-step] [--skip-batch]

Step time: seconds per loss evaluation (forward, backward and L-BFGS update) of `Gatys` (paper
preset) against `PlainGatys` below, the same loss written the straightforward way (the PyTorch
tutorial's way): a VGG-19 trunk cut after relu5_1 with average pooling, content 1/2 sum of
squared differences at relu4_2, Gram matrices / (H*W) at relu1_1..relu5_1 with E_l = mean of
squared differences / 4, weights 1/5 each times 1e3, `torch.optim.LBFGS` without line search.
Same weights, size, seed and starting noise (so the first losses must agree: printed). A step
is the time from one loss evaluation to the next; the ratio is of the medians over every step of
every run, target <= 0.9. On a shared machine the ratio of CPU seconds per step is printed too:
with ``--threads 1`` it is insensitive to other jobs (with more threads, threads waiting for
each other count as CPU time). Each ``--variants`` entry is one of our speed
settings (`methods.core.encoders.Execution`): ``default``, ``unpacked`` (``packed_weights:
false``: PyTorch's own convolutions throughout), ``channels_last``, ``bfloat16``, ``compile``,
``inexact_batches`` (``exact_batches: false``), or several joined by ``+``. Runs are interleaved and each is warmed up first.

Batching: pairs per minute stylizing ``--batch`` pairs one by one vs as one batch (each pair
keeps its own L-BFGS state, methods/core/lbfgs.py), and how far the results are apart: 0
when batching is exact (tests/methods/test_batching.py; README, Batched optimisation).

FLOPs per step come from `torch.utils.flop_counter` on one loss evaluation with its backward.
On CPU the share of a plain step spent in convolution kernels is printed too (`torch.profiler`):
``unpacked`` runs the same kernels, so that share bounds how far below plain it can go; the
default packs the weights of small-map convolutions once (`methods.core.packed_conv`), which is
where it gains.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode
from torchvision import models

from benchmarks.common import add_runtime_options, machine, median, runtime, spread, verdict
from stylebench.methods.base import MethodContext, Stylized, resolve_config
from stylebench.methods.core.encoders import FeatureEncoder, load_vgg
from stylebench.methods.core.optimize import initial_images
from stylebench.methods.core.weights import WeightsSource
from stylebench.methods.gatys import Gatys
from stylebench.metrics.runtime import synchronize, timed

T = TypeVar("T")

CONTENT_LAYER = 22  # relu4_2 in torchvision's vgg19().features
STYLE_LAYERS = (1, 6, 11, 20, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1


class PlainGatys:
    """Gatys' paper loss, written plainly: one image, one module list, one optimiser."""

    def __init__(self, encoder: FeatureEncoder, device: torch.device) -> None:
        with torch.device("meta"):
            features = models.vgg19(weights=None).features[: max(STYLE_LAYERS) + 1]
        features.load_state_dict(encoder.layers[: len(features)].state_dict(), assign=True)
        for i, module in enumerate(features):
            if isinstance(module, nn.MaxPool2d):
                features[i] = nn.AvgPool2d(kernel_size=2, stride=2)
        self.cnn = features.to(device).eval().requires_grad_(False)
        self.mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
        self.std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)

    def features(self, image: torch.Tensor) -> dict[int, torch.Tensor]:
        out, x = {}, (image - self.mean) / self.std
        for i, layer in enumerate(self.cnn):
            x = layer(x)
            if i == CONTENT_LAYER or i in STYLE_LAYERS:
                out[i] = x
        return out

    @staticmethod
    def gram(feature: torch.Tensor) -> torch.Tensor:
        _, c, h, w = feature.shape
        flat = feature.view(c, h * w)
        return flat @ flat.t() / (h * w)

    def loss(self, image: torch.Tensor, content: torch.Tensor, grams: dict) -> torch.Tensor:
        feats = self.features(image)
        content_loss = 0.5 * (feats[CONTENT_LAYER] - content).pow(2).sum()
        style_loss = sum(
            0.2 * (self.gram(feats[i]) - grams[i]).pow(2).mean() / 4 for i in STYLE_LAYERS
        )
        return content_loss + 1e3 * style_loss

    @torch.no_grad()
    def targets(
        self, content: torch.Tensor, style: torch.Tensor
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """The content target and the style Grams, computed once per pair."""
        target = self.features(content)[CONTENT_LAYER]
        grams = {i: self.gram(f) for i, f in self.features(style).items() if i in STYLE_LAYERS}
        return target, grams

    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        init: torch.Tensor,
        steps: int,
        stamps: list[tuple[float, float]] | None = None,
    ):
        """The optimised image and its loss at every evaluation (``stamps``: when each began)."""
        target, grams = self.targets(content, style)
        image = init.clone().requires_grad_(True)
        optimizer = torch.optim.LBFGS(
            [image], lr=1, max_iter=steps, max_eval=steps, history_size=100,
            tolerance_grad=-1, tolerance_change=-1,
        )  # fmt: skip
        losses = []

        def closure() -> torch.Tensor:
            if stamps is not None:
                stamps.append(now())
            optimizer.zero_grad()
            loss = self.loss(image, target, grams)
            loss.backward()
            losses.append(loss.item())
            return loss

        optimizer.step(closure)
        return image.detach().clamp(0, 1), losses


def now() -> tuple[float, float]:
    """Wall-clock and process CPU seconds. Other jobs on a shared machine stretch the first;
    the second counts only this process's work (with one torch thread, the step's own cost)."""
    return time.perf_counter(), time.process_time()


def step_flops(plain: PlainGatys, content: torch.Tensor, style: torch.Tensor) -> int:
    """FLOPs of one loss evaluation and its backward (every op torch counts: convolutions and
    matrix products)."""
    target, grams = plain.targets(content, style)
    image = content.clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        plain.loss(image, target, grams).backward()
    return counter.get_total_flops()


#: The CPU operators that run convolution kernels, forward and backward (oneDNN, or the im2col
#: path PyTorch takes for small single-image inputs).
CONVOLUTION_KERNELS = {
    "aten::mkldnn_convolution",
    "aten::convolution_backward",
    "aten::_slow_conv2d_forward",
    "aten::_slow_conv2d_backward",
}


def convolution_share(plain: PlainGatys, content: torch.Tensor, style: torch.Tensor) -> float:
    """Share of a plain step's CPU time inside convolution kernels (`torch.profiler` self time
    over 5 loss evaluations with their backward, after 2 untimed). Ours calls the same kernels
    on the same shapes with ``packed_weights: false``, so in float32 that variant can only cut
    the rest: it cannot go below this share without faster convolutions."""
    target, grams = plain.targets(content, style)
    image = content.clone().requires_grad_(True)

    def evaluate() -> None:
        image.grad = None
        plain.loss(image, target, grams).backward()

    for _ in range(2):
        evaluate()
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # the profiler's own start/stop chatter
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(5):
            evaluate()
    events = profiler.key_averages()
    total = sum(event.self_cpu_time_total for event in events)
    convolutions = sum(e.self_cpu_time_total for e in events if e.key in CONVOLUTION_KERNELS)
    return convolutions / total


def variant_settings(variant: str) -> dict:
    settings: dict = {}
    for part in variant.split("+"):
        if part == "channels_last":
            settings["channels_last"] = True
        elif part == "bfloat16":
            settings["precision"] = "bfloat16"
        elif part == "compile":
            settings["compile"] = True
        elif part == "inexact_batches":
            settings["exact_batches"] = False
        elif part == "unpacked":
            settings["packed_weights"] = False
        elif part != "default":
            raise SystemExit(f"unknown variant part {part!r}")
    return settings


def time_runs(runs: dict[str, Callable[[], object]], device: torch.device, repeats: int):
    """Seconds of each run, ``repeats`` times, interleaved; every run warmed up once first."""
    for fn in runs.values():
        fn()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            seconds[name].append(timed(fn, device)[1])
    return seconds


def measure_step(args: argparse.Namespace, encoder: FeatureEncoder, device: torch.device) -> None:
    context = MethodContext(device=device, seed=0, encoder=lambda arch: encoder)
    generator = torch.Generator().manual_seed(0)
    shape = (1, 3, args.size, args.size)
    content = torch.rand(shape, generator=generator).to(device)
    style = torch.rand(shape, generator=generator).to(device)
    init = initial_images("noise", content, [1])
    plain = PlainGatys(encoder, device)
    ours = {
        v: Gatys(resolve_config(Gatys, {"steps": args.steps, **variant_settings(v)}), context)
        for v in args.variants.split(",")
    }
    results: dict[str, list] = {}
    stamps: dict[str, list[list[tuple[float, float]]]] = {name: [] for name in ["plain", *ours]}
    for variant, method in ours.items():
        method.loss.register_forward_pre_hook(
            lambda module, inputs, v=variant: stamps[v][-1].append(now())
        )

    def run_ours(variant: str) -> Callable[[], None]:
        def run() -> None:
            stamps[variant].append([])
            results[variant] = ours[variant].stylize(content, style, seeds=[1]).curves["total"][0]

        return run

    def run_plain() -> None:
        stamps["plain"].append([])
        results["plain"] = plain.stylize(content, style, init, args.steps, stamps["plain"][-1])[1]

    runs = {"plain": run_plain, **{v: run_ours(v) for v in ours}}
    seconds = time_runs(runs, device, args.repeats)
    steps, cpu = (  # time from one loss evaluation to the next, warm-up runs left out
        {
            name: [b[k] - a[k] for run in runs_[1:] for a, b in itertools.pairwise(run)]
            for name, runs_ in stamps.items()
        }
        for k in (0, 1)
    )
    flops = step_flops(plain, content, style)
    plain_step = median(steps["plain"])
    print(
        f"step time: {args.size} px, {args.steps} L-BFGS steps, batch 1, {args.repeats} "
        "interleaved runs each; s/step is the median over every step of every run"
    )
    print(f"{'plain PyTorch: s/step':<46} {spread(steps['plain'])}")
    for variant in ours:
        print(f"{'ours (' + variant + '): s/step':<46} {spread(steps[variant])}")
        print(verdict(f"  ours ({variant}) / plain", median(steps[variant]) / plain_step, "<= 0.9"))
        fastest = min(steps[variant]) / min(steps["plain"])
        print(f"{'    fastest step / fastest step (less load-bound)':<46} {fastest:>10.3f}")
        cpu_ratio = median(cpu[variant]) / median(cpu["plain"])
        print(f"{'    CPU seconds per step, ratio of medians':<46} {cpu_ratio:>10.3f}")
    first = {name: losses[0] for name, losses in results.items()}
    last = {name: losses[-1] for name, losses in results.items()}
    agree = max(abs(first[v] - first["plain"]) / first["plain"] for v in ours)
    print(f"{'same loss: first-step loss, ours vs plain':<46} {agree:.1e} relative difference")
    print("final loss: " + ", ".join(f"{name} {value:.4g}" for name, value in last.items()))
    print(f"{'FLOPs per step (forward + backward)':<46} {flops / 1e9:.3g} GFLOP")
    if device.type == "cpu":
        share = convolution_share(plain, content, style)
        print(
            f"{'plain step: time in convolution kernels':<46} {share:>10.0%}   (ours, unpacked, "
            f"runs the same ones: it cannot go below ~{share:.2f} unless they get faster)"
        )
    for name in runs:
        print(f"{'  achieved, ' + name:<46} {flops / median(steps[name]) / 1e9:.3g} GFLOP/s")
    print(f"(whole runs, s: {', '.join(f'{n} {median(v):.3g}' for n, v in seconds.items())})")


def measure_batch(args: argparse.Namespace, encoder: FeatureEncoder, device: torch.device) -> None:
    context = MethodContext(device=device, seed=0, encoder=lambda arch: encoder)
    settings = {"steps": args.steps, **variant_settings(args.variants.split(",")[0])}
    method = Gatys(resolve_config(Gatys, settings), context)
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch, 3, args.size, args.size)
    content = torch.rand(shape, generator=generator).to(device)
    style = torch.rand(shape, generator=generator).to(device)
    seeds = list(range(args.batch))

    def one_by_one() -> list[Stylized]:
        return [
            method.stylize(content[i : i + 1], style[i : i + 1], seeds=[seeds[i]])
            for i in range(args.batch)
        ]

    def batched() -> Stylized:
        return method.stylize(content, style, seeds=seeds)

    if device.type == "cuda":  # cuDNN autotuning and the allocator, for both batch sizes
        one_by_one()
        batched()
        synchronize(device)
    singles, single_seconds = timed(one_by_one, device)
    batch, batch_seconds = timed(batched, device)
    single = torch.cat([s.images for s in singles])
    single_loss = torch.tensor([s.curves["total"][0][-1] for s in singles])
    batch_loss = torch.tensor([curve[-1] for curve in batch.curves["total"]])
    print(f"\nbatching: {args.batch} pairs, {args.size} px, {args.steps} L-BFGS steps")
    print(f"{'batch 1: pairs/min':<46} {60 * args.batch / single_seconds:.3g}")
    print(f"{'batch ' + str(args.batch) + ': pairs/min':<46} {60 * args.batch / batch_seconds:.3g}")
    print(f"{'speed-up':<46} {single_seconds / batch_seconds:.2f}x")
    pixels = (batch.images - single).abs().max().item()
    losses = ((batch_loss - single_loss).abs() / single_loss.abs()).max().item()
    print(
        f"batched vs one by one: max pixel difference {pixels:.2e} (pixels in [0, 1]), "
        f"max relative difference of the final loss {losses:.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--variants", default="default,unpacked")
    add_runtime_options(parser)
    parser.add_argument("--skip-step", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    device = runtime(args)
    start = time.perf_counter()
    encoder = load_vgg("vgg19", WeightsSource.parse(args.weights, seed=0)).to(device)
    print(f"gatys benchmark on {machine(device)}; weights {args.weights}\n")
    if not args.skip_step:
        measure_step(args, encoder, device)
    if not args.skip_batch:
        measure_batch(args, encoder, device)
    print(f"\n(took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
