"""github:diyiiyiii/StyTR-2's networks, forward pass and losses, rebuilt here from their structure
(``models/StyTR.py``: ``PatchEmbed``, ``decoder``, ``StyTrans.forward``; ``models/transformer.py``:
``Transformer``, ``TransformerEncoder(Layer)``, ``TransformerDecoder(Layer)`` with
``normalize_before=False`` and ``return_intermediate_dec=False`` as ``train.py`` and ``test.py``
build it; ``function.py``: ``calc_mean_std``, ``normal``), so stylebench's StyTr^2 can be
compared with the reference code on identical weights without depending on its files. Its
tokens are sequence-first ([HW, B, C]) as the code's; its ``vgg`` and ``decoder`` are
naoto0804/pytorch-AdaIN's layouts module for module (`reference_adain`), the slices
`reference_sanet`'s."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tests.methods.reference_adain import calc_mean_std, decoder
from tests.methods.reference_sanet import intermediate, mean_variance_norm


class PatchEmbed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, 512, kernel_size=8, stride=8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class EncoderLayer(nn.Module):
    """``TransformerEncoderLayer.forward_post``."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(512, 8, dropout=dropout)
        self.linear1 = nn.Linear(512, 2048)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(2048, 512)
        self.norm1, self.norm2 = nn.LayerNorm(512), nn.LayerNorm(512)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, src, pos):
        q = k = src if pos is None else src + pos
        src = self.norm1(src + self.dropout1(self.self_attn(q, k, value=src)[0]))
        src2 = self.linear2(self.dropout(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout2(src2))


class DecoderLayer(nn.Module):
    """``TransformerDecoderLayer.forward_post``: its ``self_attn`` has memory keys and values."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(512, 8, dropout=dropout)
        self.multihead_attn = nn.MultiheadAttention(512, 8, dropout=dropout)
        self.linear1 = nn.Linear(512, 2048)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(2048, 512)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(512) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))

    def forward(self, tgt, memory, pos, query_pos):
        k = memory if pos is None else memory + pos
        tgt2 = self.self_attn(tgt + query_pos, k, memory)[0]
        tgt = self.norm1(tgt + self.dropout1(tgt2))
        tgt2 = self.multihead_attn(query=tgt + query_pos, key=k, value=memory)[0]
        tgt = self.norm2(tgt + self.dropout2(tgt2))
        tgt2 = self.linear2(self.dropout(F.relu(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(tgt2))


class Stack(nn.Module):
    """``TransformerEncoder`` / ``TransformerDecoder``: clones of one layer, optional norm."""

    def __init__(self, layer: nn.Module, norm: nn.Module | None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(3))
        self.norm = norm


class Transformer(nn.Module):
    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder_c = Stack(EncoderLayer(dropout), None)
        self.encoder_s = Stack(EncoderLayer(dropout), None)
        self.decoder = Stack(DecoderLayer(dropout), nn.LayerNorm(512))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        self.new_ps = nn.Conv2d(512, 512, (1, 1))
        self.averagepooling = nn.AdaptiveAvgPool2d(18)

    def forward(self, style, content):
        pos_c = self.new_ps(self.averagepooling(content))
        pos_embed_c = F.interpolate(pos_c, mode="bilinear", size=style.shape[-2:])
        style = style.flatten(2).permute(2, 0, 1)
        content = content.flatten(2).permute(2, 0, 1)
        pos_embed_c = pos_embed_c.flatten(2).permute(2, 0, 1)
        for layer in self.encoder_s.layers:
            style = layer(style, None)
        for layer in self.encoder_c.layers:
            content = layer(content, pos_embed_c)
        hs = content
        for layer in self.decoder.layers:
            hs = layer(hs, style, None, pos_embed_c)
        hs = self.decoder.norm(hs)
        n, b, c = hs.shape
        h = int(np.sqrt(n))
        return hs.permute(1, 2, 0).view(b, c, -1, h)


def networks(dropout: float = 0.1) -> tuple[nn.Module, nn.Module, nn.Module]:
    """embedding, transformer, decoder: the three files' networks, in ``train.py``'s order of
    saving reversed to the checkpoint's (embedding, transformer, decoder)."""
    return PatchEmbed(), Transformer(dropout), decoder()


def stylize(embedding, transformer, dec, content, style) -> torch.Tensor:
    """``StyTrans.forward`` up to ``Ics``."""
    return dec(transformer(embedding(style), embedding(content)))


def losses(vgg, embedding, transformer, dec, content, style):
    """``StyTrans.forward``'s (loss_c, loss_s, loss_lambda1, loss_lambda2) before weighting."""
    mse = nn.MSELoss()
    content_feats, style_feats = intermediate(vgg, content), intermediate(vgg, style)
    e_s, e_c = embedding(style), embedding(content)
    ics = dec(transformer(e_s, e_c))
    ics_feats = intermediate(vgg, ics)
    loss_c = mse(mean_variance_norm(ics_feats[-1]), mean_variance_norm(content_feats[-1])) + mse(
        mean_variance_norm(ics_feats[-2]), mean_variance_norm(content_feats[-2])
    )
    loss_s = sum(
        mse(calc_mean_std(i)[0], calc_mean_std(s)[0])
        + mse(calc_mean_std(i)[1], calc_mean_std(s)[1])
        for i, s in zip(ics_feats, style_feats, strict=True)
    )
    icc = dec(transformer(e_c, e_c))
    iss = dec(transformer(e_s, e_s))
    loss_lambda1 = mse(icc, content) + mse(iss, style)
    icc_feats, iss_feats = intermediate(vgg, icc), intermediate(vgg, iss)
    loss_lambda2 = sum(
        mse(icc_feats[i], content_feats[i]) + mse(iss_feats[i], style_feats[i]) for i in range(5)
    )
    return loss_c, loss_s, loss_lambda1, loss_lambda2
