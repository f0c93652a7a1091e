"""github:Huage001/AdaAttN's networks, forward pass and losses, rebuilt here from their structure
(``models/networks.py``: ``AdaAttN``, ``Transformer``, ``Decoder``, ``calc_mean_std``,
``mean_variance_norm``; ``models/adaattn_model.py``: the ``enc_1 .. enc_5`` slices, ``get_key``,
``forward`` and ``compute_losses``, run with ``--shallow_layer --skip_connection_3`` as its
scripts do), so stylebench's AdaAttN can be compared with the reference code on identical
weights without depending on its files. Its encoder is naoto0804/pytorch-AdaIN's ``vgg``
module for module, so it comes from `reference_adain`; the slices are `reference_sanet`'s."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tests.methods.reference_adain import calc_mean_std
from tests.methods.reference_sanet import intermediate, mean_variance_norm

#: ``AdaAttNModel.max_sample`` (relu3_1 module and the local loss) and ``AdaAttN``'s default.
MODEL_MAX_SAMPLE = 64 * 64
MODULE_MAX_SAMPLE = 256 * 256


def _pick(n: int, max_sample: int, seed: int | None) -> torch.Tensor | None:
    """The reference's subset: reseed the global generator, a CPU ``randperm``, the first ones."""
    if n <= max_sample:
        return None
    if seed is not None:
        torch.manual_seed(seed)
    return torch.randperm(n)[:max_sample]


def _weighted_stats(attn_logits: torch.Tensor, values: torch.Tensor, h: int, w: int):
    """softmax, then mean = S V and std = sqrt(relu(S V^2 - mean^2)), back to [b, c, h, w]."""
    b = attn_logits.shape[0]
    s = torch.softmax(attn_logits, dim=-1)
    mean = torch.bmm(s, values)
    std = torch.sqrt(torch.relu(torch.bmm(s, values**2) - mean**2))
    mean = mean.view(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
    std = std.view(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
    return mean, std


class AdaAttN(nn.Module):
    """``AdaAttN(in_planes, max_sample, key_planes)``: f, g on keys, h on the style, 1x1."""

    def __init__(self, in_planes: int, max_sample: int, key_planes: int) -> None:
        super().__init__()
        self.f = nn.Conv2d(key_planes, key_planes, (1, 1))
        self.g = nn.Conv2d(key_planes, key_planes, (1, 1))
        self.h = nn.Conv2d(in_planes, in_planes, (1, 1))
        self.max_sample = max_sample

    def forward(self, content, style, content_key, style_key, seed=None) -> torch.Tensor:
        f, g, h = self.f(content_key), self.g(style_key), self.h(style)
        b, _, hg, wg = g.shape
        g = g.view(b, -1, hg * wg)
        index = _pick(hg * wg, self.max_sample, seed)
        flat = h.view(b, -1, hg * wg)
        if index is not None:
            g, flat = g[:, :, index], flat[:, :, index]
        _, _, hc, wc = f.shape
        f = f.view(b, -1, hc * wc).permute(0, 2, 1)
        mean, std = _weighted_stats(torch.bmm(f, g), flat.transpose(1, 2), hc, wc)
        return std * mean_variance_norm(content) + mean


class Transformer(nn.Module):
    """``Transformer(in_planes=512, key_planes=960, shallow_layer=True)``."""

    def __init__(self, in_planes: int = 512, key_planes: int = 960) -> None:
        super().__init__()
        self.attn_adain_4_1 = AdaAttN(in_planes, MODULE_MAX_SAMPLE, key_planes)
        self.attn_adain_5_1 = AdaAttN(in_planes, MODULE_MAX_SAMPLE, key_planes + 512)
        self.upsample5_1 = nn.Upsample(scale_factor=2, mode="nearest")
        self.merge_conv_pad = nn.ReflectionPad2d((1, 1, 1, 1))
        self.merge_conv = nn.Conv2d(in_planes, in_planes, (3, 3))

    def forward(self, c4, s4, c5, s5, c4k, s4k, c5k, s5k, seed=None) -> torch.Tensor:
        near = self.attn_adain_4_1(c4, s4, c4k, s4k, seed=seed)
        deep = self.upsample5_1(self.attn_adain_5_1(c5, s5, c5k, s5k, seed=seed))
        return self.merge_conv(self.merge_conv_pad(near + deep))


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(cin, cout, (3, 3)), nn.ReLU()]


class Decoder(nn.Module):
    """``Decoder(skip_connection_3=True)``: two ``nn.Sequential``, the skip joins the second."""

    def __init__(self) -> None:
        super().__init__()
        up = nn.Upsample(scale_factor=2, mode="nearest")
        self.decoder_layer_1 = nn.Sequential(*_block(512, 256), up)
        self.decoder_layer_2 = nn.Sequential(
            *_block(512, 256),
            *_block(256, 256),
            *_block(256, 256),
            *_block(256, 128),
            nn.Upsample(scale_factor=2, mode="nearest"),
            *_block(128, 128),
            *_block(128, 64),
            nn.Upsample(scale_factor=2, mode="nearest"),
            *_block(64, 64),
            *_block(64, 3)[:-1],
        )

    def forward(self, cs, c_adain_feat_3) -> torch.Tensor:
        return self.decoder_layer_2(torch.cat((self.decoder_layer_1(cs), c_adain_feat_3), dim=1))


def networks(max_sample: int = MODEL_MAX_SAMPLE) -> tuple[AdaAttN, Transformer, Decoder]:
    """``net_adaattn_3``, ``net_transformer``, ``net_decoder`` at PyTorch's default init."""
    return AdaAttN(256, max_sample, 256 + 128 + 64), Transformer(), Decoder()


def get_key(feats: list[torch.Tensor], last: int) -> torch.Tensor:
    """``get_key(feats, last_layer_idx, need_shallow=True)``."""
    _, _, h, w = feats[last].shape
    parts = [mean_variance_norm(F.interpolate(feats[i], (h, w))) for i in range(last)]
    return torch.cat([*parts, mean_variance_norm(feats[last])], dim=1)


def stylize(vgg, adaattn_3, transformer, decoder, content, style, seed=6666) -> torch.Tensor:
    """``AdaAttNModel.forward`` (``test.py`` keeps ``self.seed`` = 6666)."""
    c, s = intermediate(vgg, content), intermediate(vgg, style)
    skip = adaattn_3(c[2], s[2], get_key(c, 2), get_key(s, 2), seed)
    cs = transformer(
        c[3], s[3], c[4], s[4], get_key(c, 3), get_key(s, 3), get_key(c, 4), get_key(s, 4), seed
    )
    return decoder(cs, skip)


def losses(vgg, adaattn_3, transformer, decoder, content, style, seed, max_sample=MODEL_MAX_SAMPLE):
    """``compute_losses`` before weighting: (loss_content, loss_global, loss_local)."""
    mse = nn.MSELoss()
    c_feats, s_feats = intermediate(vgg, content), intermediate(vgg, style)
    out = intermediate(vgg, stylize(vgg, adaattn_3, transformer, decoder, content, style, seed))
    loss_content = sum(
        mse(mean_variance_norm(out[i]), mean_variance_norm(c_feats[i])) for i in range(1, 5)
    )
    loss_global = sum(
        mse(calc_mean_std(out[i])[0], calc_mean_std(s_feats[i])[0])
        + mse(calc_mean_std(out[i])[1], calc_mean_std(s_feats[i])[1])
        for i in range(1, 5)
    )
    loss_local = 0.0
    for i in range(1, 5):
        c_key, s_key = get_key(c_feats, i), get_key(s_feats, i)
        b, _, hs, ws = s_key.shape
        s_key = s_key.view(b, -1, hs * ws)
        flat = s_feats[i].view(b, -1, hs * ws)
        index = _pick(hs * ws, max_sample, seed)
        if index is not None:
            s_key, flat = s_key[:, :, index], flat[:, :, index]
        _, _, hc, wc = c_key.shape
        c_key = c_key.view(b, -1, hc * wc).permute(0, 2, 1)
        mean, std = _weighted_stats(torch.bmm(c_key, s_key), flat.transpose(1, 2), hc, wc)
        loss_local = loss_local + mse(out[i], std * mean_variance_norm(c_feats[i]) + mean)
    return loss_content, loss_global, loss_local
