"""github:GlebSBrykin/SANET's networks, forward pass and losses, rebuilt here from their structure
(``Eval.py``: ``vgg``, ``decoder``, ``SANet``, ``Transform`` and the ``enc_1 .. enc_5`` slices;
``Train.ipynb``: ``Net.forward``), so stylebench's SANet can be compared with the reference code
on identical weights without depending on its files. Its ``vgg`` and ``decoder`` are
naoto0804/pytorch-AdaIN's ``nn.Sequential`` layouts module for module, so they come from
`reference_adain`."""

from __future__ import annotations

import torch
from torch import nn

from tests.methods.reference_adain import calc_mean_std


def mean_variance_norm(feat: torch.Tensor) -> torch.Tensor:
    mean, std = calc_mean_std(feat)
    return (feat - mean) / std


class SANet(nn.Module):
    """``SANet(in_planes)``: f, g, h and out_conv 1x1, softmax over the style positions."""

    def __init__(self, in_planes: int) -> None:
        super().__init__()
        self.f = nn.Conv2d(in_planes, in_planes, (1, 1))
        self.g = nn.Conv2d(in_planes, in_planes, (1, 1))
        self.h = nn.Conv2d(in_planes, in_planes, (1, 1))
        self.sm = nn.Softmax(dim=-1)
        self.out_conv = nn.Conv2d(in_planes, in_planes, (1, 1))

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        f = self.f(mean_variance_norm(content))
        g = self.g(mean_variance_norm(style))
        h = self.h(style)
        b, c, hc, wc = f.size()
        f = f.view(b, -1, wc * hc).permute(0, 2, 1)
        b, c, hs, ws = g.size()
        g = g.view(b, -1, ws * hs)
        s = self.sm(torch.bmm(f, g))
        b, c, hs, ws = h.size()
        h = h.view(b, -1, ws * hs)
        o = torch.bmm(h, s.permute(0, 2, 1))
        b, c, hc, wc = content.size()
        return self.out_conv(o.view(b, c, hc, wc)) + content


class Transform(nn.Module):
    """``Transform(in_planes)``: SANet at relu4_1 and relu5_1, nearest x2, add, padded 3x3."""

    def __init__(self, in_planes: int) -> None:
        super().__init__()
        self.sanet4_1 = SANet(in_planes)
        self.sanet5_1 = SANet(in_planes)
        self.upsample5_1 = nn.Upsample(scale_factor=2, mode="nearest")
        self.merge_conv_pad = nn.ReflectionPad2d((1, 1, 1, 1))
        self.merge_conv = nn.Conv2d(in_planes, in_planes, (3, 3))

    def forward(self, content4_1, style4_1, content5_1, style5_1) -> torch.Tensor:
        deep = self.upsample5_1(self.sanet5_1(content5_1, style5_1))
        return self.merge_conv(self.merge_conv_pad(self.sanet4_1(content4_1, style4_1) + deep))


def stages(vgg: nn.Sequential) -> list[nn.Sequential]:
    """``enc_1 .. enc_5``: input -> relu1_1 -> relu2_1 -> relu3_1 -> relu4_1 -> relu5_1."""
    return [vgg[:4], vgg[4:11], vgg[11:18], vgg[18:31], vgg[31:44]]


def intermediate(vgg: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """``encode_with_intermediate``: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1."""
    out = []
    for stage in stages(vgg):
        x = stage(x)
        out.append(x)
    return out


def stylize(
    vgg: nn.Sequential, transform: Transform, dec: nn.Module, content, style
) -> torch.Tensor:
    """Eval.py's one step: decoder(transform(Content4_1, Style4_1, Content5_1, Style5_1))."""
    c, s = intermediate(vgg, content), intermediate(vgg, style)
    return dec(transform(c[3], s[3], c[4], s[4]))


def losses(vgg: nn.Sequential, transform: Transform, dec: nn.Module, content, style):
    """``Net.forward``: (loss_c, loss_s, l_identity1, l_identity2) before weighting."""
    mse = nn.MSELoss()
    style_feats, content_feats = intermediate(vgg, style), intermediate(vgg, content)
    g_t = dec(transform(content_feats[3], style_feats[3], content_feats[4], style_feats[4]))
    g_t_feats = intermediate(vgg, g_t)
    loss_c = sum(
        mse(mean_variance_norm(g_t_feats[i]), mean_variance_norm(content_feats[i])) for i in (3, 4)
    )
    loss_s = sum(
        mse(calc_mean_std(g)[0], calc_mean_std(s)[0])
        + mse(calc_mean_std(g)[1], calc_mean_std(s)[1])
        for g, s in zip(g_t_feats, style_feats, strict=True)
    )
    icc = dec(transform(content_feats[3], content_feats[3], content_feats[4], content_feats[4]))
    iss = dec(transform(style_feats[3], style_feats[3], style_feats[4], style_feats[4]))
    l_identity1 = mse(icc, content) + mse(iss, style)
    fcc, fss = intermediate(vgg, icc), intermediate(vgg, iss)
    l_identity2 = sum(mse(fcc[i], content_feats[i]) + mse(fss[i], style_feats[i]) for i in range(5))
    return loss_c, loss_s, l_identity1, l_identity2
