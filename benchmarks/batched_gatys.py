"""Throughput of batched Gatys optimisation: pairs per minute at batch 1 vs batch N.

    uv run python benchmarks/batched_gatys.py [--size 256] [--steps 50] [--batch 8]
        [--weights random|pretrained|PATH] [--device cuda|cpu] [--optimizer lbfgs|adam]

Optimises N (content, style) pairs once one by one and once as one batch, with the same seeds,
and prints pairs per minute for both, the speed-up, and how far the two results are apart.
Each pair keeps its own optimiser state (see methods/core/lbfgs.py), so the difference is float
rounding only: batched convolutions may sum in another order (~1e-7 relative), and the
optimisation amplifies that like any change of summation order, e.g. another GPU or library
version (in float64 the difference is exactly 0; see tests/methods/test_batching.py).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

import torch

from methods.base import MethodContext, Stylized, resolve_config
from methods.core.encoders import load_vgg
from methods.core.weights import WeightsSource
from methods.gatys import Gatys

T = TypeVar("T")


def timed(fn: Callable[[], T], device: torch.device) -> tuple[T, float]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--weights", default="random")
    parser.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    device = torch.device(args.device)
    encoder = load_vgg("vgg19", WeightsSource.parse(args.weights, seed=0)).to(device)
    context = MethodContext(device=device, seed=0, encoder=lambda arch: encoder)
    settings = {"steps": args.steps, "optimizer": args.optimizer}
    if args.optimizer == "adam":
        settings["lr"] = 0.02
    method = Gatys(resolve_config(Gatys, settings), context)
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch, 3, args.size, args.size)
    content = torch.rand(shape, generator=generator).to(device)
    style = torch.rand(shape, generator=generator).to(device)
    seeds = list(range(args.batch))

    if device.type == "cuda":  # warm-up: cuDNN autotuning and allocator, for both batch sizes
        method.stylize(content[:1], style[:1], seeds=seeds[:1])
        method.stylize(content, style, seeds=seeds)

    def one_by_one() -> list[Stylized]:
        return [
            method.stylize(content[i : i + 1], style[i : i + 1], seeds=[seeds[i]])
            for i in range(args.batch)
        ]

    singles, single_seconds = timed(one_by_one, device)
    batch, batch_seconds = timed(lambda: method.stylize(content, style, seeds=seeds), device)
    single = torch.cat([s.images for s in singles])
    single_loss = torch.tensor([s.curves["total"][0][-1] for s in singles])
    batch_loss = torch.tensor([curve[-1] for curve in batch.curves["total"]])
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"device {name}, {args.size} px, {args.steps} {args.optimizer} steps, "
        f"weights {args.weights}, {args.batch} pairs"
    )
    print(f"batch 1: {60 * args.batch / single_seconds:8.2f} pairs/min ({single_seconds:.1f} s)")
    print(
        f"batch {args.batch}: {60 * args.batch / batch_seconds:8.2f} pairs/min "
        f"({batch_seconds:.1f} s)"
    )
    print(f"speed-up: {single_seconds / batch_seconds:.2f}x")
    pixels = (batch.images - single).abs().max().item()
    losses = ((batch_loss - single_loss).abs() / single_loss.abs()).max().item()
    print(
        f"batched vs one by one: max pixel difference {pixels:.2e} (pixels in [0, 1]), "
        f"max relative difference of the final loss {losses:.2e}"
    )


if __name__ == "__main__":
    main()
