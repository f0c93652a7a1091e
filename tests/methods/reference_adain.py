"""github:naoto0804/pytorch-AdaIN's networks and forward pass, rebuilt here from their structure
(``net.py``: ``vgg`` and ``decoder`` as ``nn.Sequential``; ``function.py``: ``calc_mean_std``
and ``adaptive_instance_normalization``; ``test.py``: ``style_transfer``), so stylebench's AdaIN
can be compared with the reference code on identical weights without depending on its files."""

from __future__ import annotations

import torch
from torch import nn


def _convs(pairs: list[tuple[int, int]]) -> list[nn.Module]:
    """Reflection pad, 3x3 conv, ReLU for each (in, out) pair, as net.py writes them."""
    modules: list[nn.Module] = []
    for cin, cout in pairs:
        modules += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(cin, cout, (3, 3)), nn.ReLU()]
    return modules


def _pool() -> nn.Module:
    return nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True)


def vgg() -> nn.Sequential:
    """net.py's ``vgg``: the 1x1 conv, then conv1_1 .. relu5_4 (53 modules)."""
    return nn.Sequential(
        nn.Conv2d(3, 3, (1, 1)),
        *_convs([(3, 64), (64, 64)]),
        _pool(),
        *_convs([(64, 128), (128, 128)]),
        _pool(),
        *_convs([(128, 256), (256, 256), (256, 256), (256, 256)]),
        _pool(),
        *_convs([(256, 512), (512, 512), (512, 512), (512, 512)]),
        _pool(),
        *_convs([(512, 512), (512, 512), (512, 512), (512, 512)]),
    )


def decoder() -> nn.Sequential:
    """net.py's ``decoder`` (29 modules; no ReLU after the last conv)."""
    up = nn.UpsamplingNearest2d
    return nn.Sequential(
        *_convs([(512, 256)]),
        up(scale_factor=2),
        *_convs([(256, 256), (256, 256), (256, 256), (256, 128)]),
        up(scale_factor=2),
        *_convs([(128, 128), (128, 64)]),
        up(scale_factor=2),
        *_convs([(64, 64), (64, 3)])[:-1],
    )


def random_vgg(seed: int) -> nn.Sequential:
    """``vgg`` with seeded He-normal weights and small random biases (PyTorch's default init
    shrinks activations ~6x per layer: features at relu4_1 would be all bias)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = vgg()
        for module in network:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.uniform_(module.bias, -0.1, 0.1)
    return network


def calc_mean_std(feat: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    n, c = feat.shape[:2]
    var = feat.view(n, c, -1).var(dim=2) + eps
    return feat.view(n, c, -1).mean(dim=2).view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1)


def adaptive_instance_normalization(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    style_mean, style_std = calc_mean_std(style)
    content_mean, content_std = calc_mean_std(content)
    return (content - content_mean) / content_std * style_std + style_mean


def style_transfer(
    encoder: nn.Module,
    dec: nn.Module,
    content: torch.Tensor,
    style: torch.Tensor,
    alpha: float = 1.0,
    interpolation_weights: list[float] | None = None,
) -> torch.Tensor:
    """test.py's ``style_transfer`` (interpolation: one content repeated, N styles)."""
    content_f, style_f = encoder(content), encoder(style)
    if interpolation_weights:
        base = adaptive_instance_normalization(content_f, style_f)
        feat = torch.zeros_like(content_f[:1])
        for i, w in enumerate(interpolation_weights):
            feat = feat + w * base[i : i + 1]
        content_f = content_f[:1]
    else:
        feat = adaptive_instance_normalization(content_f, style_f)
    return dec(feat * alpha + content_f * (1 - alpha))


def losses(
    encoder: nn.Sequential, dec: nn.Module, content: torch.Tensor, style: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """net.py's ``Net.forward``: (content loss, style loss) before weighting."""
    stages = [encoder[:4], encoder[4:11], encoder[11:18], encoder[18:31]]

    def intermediate(x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for stage in stages:
            x = stage(x)
            out.append(x)
        return out

    mse = nn.MSELoss()
    style_feats = intermediate(style)
    t = adaptive_instance_normalization(intermediate(content)[-1], style_feats[-1])
    g_feats = intermediate(dec(t))
    loss_s = sum(
        mse(calc_mean_std(g)[0], calc_mean_std(s)[0])
        + mse(calc_mean_std(g)[1], calc_mean_std(s)[1])
        for g, s in zip(g_feats, style_feats, strict=True)
    )
    return mse(g_feats[-1], t), loss_s
