"""GPU figures: Gatys at 512 px, Johnson's images per second, and the Gatys step's model FLOP
utilisation.

    uv run python -m benchmarks.gpu [--size 512] [--steps 500] [--batch 8]
        [--variants default,channels_last+bfloat16] [--johnson-batch 32] [--repeats 3]
        [--weights random|pretrained|PATH] [--device cuda|cpu] [--threads N]

Needs CUDA; ``--device cpu`` (with e.g. ``--size 64 --steps 4 --batch 2 --johnson-batch 2``)
only checks that the script runs: its figures are not the issue's.

- Gatys: seconds per image, amortised over a batch of ``--batch`` pairs optimised together (paper
  preset, ``--steps`` L-BFGS steps), per ``--variants`` entry (our speed settings, as in
  benchmarks/gatys.py). Target <= 2 s on one H100.
- The same runs' model FLOP utilisation: FLOPs of a step (`torch.utils.flop_counter`, forward and
  backward) x steps x batch / seconds / the device's dense peak for the precision (`PEAK_TFLOPS`;
  float32 convolutions run as TF32 on tensor cores, PyTorch's default for cuDNN).
- bfloat16's effect on quality at this size: evaluation content and style loss of each variant's
  outputs against the float32 ones (mean and largest relative change).
- Johnson: images per second of `Johnson.stylize` (the harness's call) on batches of
  ``--johnson-batch`` content images at ``--size``, median of ``--repeats`` after a warm-up, in
  float32 and with its ``channels_last: true, precision: bfloat16`` settings (same weights). The
  network is untrained (speed does not depend on its weights).
  Target >= 1,000 images/s on one H100.
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import add_runtime_options, machine, median, runtime, spread, verdict
from benchmarks.gatys import PlainGatys, step_flops, variant_settings
from stylebench.methods.base import MethodContext, resolve_config
from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.weights import WeightsSource
from stylebench.methods.gatys import Gatys
from stylebench.methods.johnson import Johnson
from stylebench.metrics.base import MetricContext
from stylebench.metrics.feature_losses import ContentLoss, StyleLoss
from stylebench.metrics.runtime import synchronize, timed

#: Dense peak TFLOP/s from NVIDIA's data sheets, by a name fragment and the precision the
#: convolutions run in (float32 means TF32 tensor cores).
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H100 PCIe": {"bfloat16": 756.0, "float32": 378.0},
    "H100": {"bfloat16": 989.4, "float32": 494.7},  # SXM
    "H200": {"bfloat16": 989.4, "float32": 494.7},
    "A100": {"bfloat16": 312.0, "float32": 156.0},
}


def peak_flops(device: torch.device, precision: str) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for fragment, peaks in PEAK_TFLOPS.items():
        if fragment in name:
            return peaks[precision] * 1e12
    return None


def images(count: int, size: int, seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, 3, size, size, generator=generator).to(device)


def measure_gatys(args: argparse.Namespace, context: MethodContext, device: torch.device) -> None:
    content, style = (
        images(args.batch, args.size, 0, device),
        images(args.batch, args.size, 1, device),
    )
    seeds = list(range(args.batch))
    flops = step_flops(PlainGatys(context.encoder("vgg19"), device), content[:1], style[:1])
    metric_context = MetricContext(
        device=device, weights=args.source, encoder=context.encoder, cache=args.cache
    )
    quality = {"content_loss": ContentLoss(metric_context), "style_loss": StyleLoss(metric_context)}
    outputs: dict[str, torch.Tensor] = {}
    print(f"gatys: {args.size} px, {args.steps} L-BFGS steps, batches of {args.batch} pairs")
    for variant in args.variants.split(","):
        settings = variant_settings(variant)
        method = Gatys(resolve_config(Gatys, {"steps": args.steps, **settings}), context)
        warm = Gatys(resolve_config(Gatys, {"steps": 3, **settings}), context)
        warm.stylize(content, style, seeds=seeds)  # autotuning, allocator, compilation
        synchronize(device)
        result, seconds = timed(lambda m=method: m.stylize(content, style, seeds=seeds), device)
        outputs[variant] = result.images
        per_image = seconds / args.batch
        print(f"{'  ' + variant + ': s/image (amortised)':<46} {per_image:.3g}")
        print(verdict(f"  {variant}: s/image vs one H100 target", per_image, "<= 2"))
        precision = settings.get("precision", "float32")
        peak = peak_flops(device, precision)
        achieved = flops * args.steps * args.batch / seconds
        mfu = f"{achieved / peak:.1%} of {peak / 1e12:.0f} TFLOP/s" if peak else "peak unknown"
        print(
            f"{'  ' + variant + ': model FLOP utilisation':<46} {mfu} ({achieved / 1e12:.3g} TFLOP/s)"
        )
    base = outputs.get("default")
    if base is None:
        return
    for variant, output in outputs.items():
        if variant == "default":
            continue
        for name, metric in quality.items():
            ours, ref = metric(output, content, style), metric(base, content, style)
            change = (ours - ref).abs() / ref
            print(
                f"{'  ' + variant + ' vs float32: ' + name:<46} mean {change.mean().item():.1%}, "
                f"largest {change.max().item():.1%} relative change"
            )


def measure_johnson(args: argparse.Namespace, context: MethodContext, device: torch.device) -> None:
    plain = Johnson(resolve_config(Johnson, {}), context)
    content = images(args.johnson_batch, args.size, 2, device)
    style = content[:1]
    print(f"\njohnson: {args.size} px, batches of {args.johnson_batch}, untrained network")
    runs = (
        ("float32 (the default)", {}),
        ("channels_last + bfloat16 (settings)", {"channels_last": True, "precision": "bfloat16"}),
    )
    for label, settings in runs:
        method = Johnson(resolve_config(Johnson, settings), context)
        method.load_state_dict(plain.state_dict())
        method.stylize(content, style)
        synchronize(device)
        seconds = [
            timed(lambda m=method: m.stylize(content, style), device)[1]
            for _ in range(args.repeats)
        ]
        rates = [args.johnson_batch / s for s in seconds]
        print(f"{'  ' + label + ': images/s':<46} {spread(rates)}")
        print(verdict(f"  {label}", median(rates), ">= 1000"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--variants", default="default,channels_last,channels_last+bfloat16")
    parser.add_argument("--johnson-batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    add_runtime_options(parser)
    args = parser.parse_args()
    device = runtime(args)
    if device.type != "cuda" and args.device != "cpu":
        raise SystemExit("no CUDA device: GPU figures not yet measured (--device cpu to test)")
    start = time.perf_counter()
    args.source = WeightsSource.parse(args.weights, seed=0)
    from stylebench.paths import cache_dir

    args.cache = cache_dir()
    encoders: dict = {}

    def encoder(arch: str):
        if arch not in encoders:
            encoders[arch] = load_encoder(arch, args.source).to(device)
        return encoders[arch]

    context = MethodContext(device=device, seed=0, encoder=encoder)
    print(f"gpu benchmark on {machine(device)}; weights {args.weights}\n")
    measure_gatys(args, context, device)
    measure_johnson(args, context, device)
    print(f"\n(took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
