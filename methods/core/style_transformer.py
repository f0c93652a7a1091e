"""StyTr^2's networks (Deng et al., CVPR 2022), laid out as github:diyiiyiii/StyTR-2's published
files are, so they load strictly: `PatchEmbed` (``embedding_iter_160000.pth``: ``proj``, an 8x8
convolution of stride 8, 3 -> 512) and `Transformer` (``transformer_iter_160000.pth``:
``encoder_c``, ``encoder_s``, ``decoder`` and ``new_ps``); the CNN decoder is AdaIN's mirrored
decoder (`methods.core.normalised_vgg.mirrored_decoder`), module for module the reference's.

Images become sequences of 8x8 patch tokens (d_model 512). The content tokens get the
content-aware positional encoding (CAPE): the token map average-pooled to 18 x 18, a 1x1
convolution, bilinear up-sampling back to the token grid, so the encoding follows what is in the
image and not only where. It is added to the queries and keys of the content encoder's
self-attention and to the queries of the decoder's attention; style tokens get none. Each layer
is post-norm (the code's ``normalize_before=False``): residual add, then LayerNorm. A decoder
layer attends to the style memory twice: the code's first attention, named ``self_attn``, takes
its keys and values from the memory too (``forward_post``), then ``multihead_attn`` does the
same with its own weights, then the feed-forward; a final LayerNorm closes the decoder. The
result, one token per content patch, goes back to a [B, 512, H/8, W/8] map for the CNN decoder.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as functional
from torch import nn

from stylebench.methods.core.inference import memory_order_of

#: The reference's ``PatchEmbed``, ``Transformer`` and decoder widths.
PATCH = 8
D_MODEL = 512
HEADS = 8
LAYERS = 3
FEED_FORWARD = 2048
#: The side CAPE pools the content tokens to (the code's ``AdaptiveAvgPool2d(18)``).
CAPE_GRID = 18

Tokens = torch.Tensor  # [B, N, C]


class PatchEmbed(nn.Module):
    """Non-overlapping 8x8 patches, each linearly projected to a 512-d token (as a map)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, D_MODEL, PATCH, stride=PATCH)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images)


def _attend(
    attention: nn.MultiheadAttention, query: Tokens, key: Tokens, value: Tokens
) -> torch.Tensor:
    return attention(query, key, value, need_weights=False)[0]


def _plus(tokens: Tokens, position: Tokens | None) -> Tokens:
    return tokens if position is None else tokens + position


class EncoderLayer(nn.Module):
    """Self-attention (position added to queries and keys, not values), then a ReLU
    feed-forward, each followed by dropout, the residual and LayerNorm."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(D_MODEL, HEADS, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(D_MODEL, FEED_FORWARD)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(FEED_FORWARD, D_MODEL)
        self.norm1 = nn.LayerNorm(D_MODEL)
        self.norm2 = nn.LayerNorm(D_MODEL)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def feed_forward(self, x: Tokens) -> Tokens:
        """linear2(dropout(relu(linear1(x)))), position by position."""
        return self.linear2(self.dropout(functional.relu(self.linear1(x))))

    def forward(self, src: Tokens, pos: Tokens | None) -> Tokens:
        q = k = _plus(src, pos)
        src = self.norm1(src + self.dropout1(_attend(self.self_attn, q, k, src)))
        return self.norm2(src + self.dropout2(self.feed_forward(src)))


class DecoderLayer(EncoderLayer):
    """Two attentions of the content tokens over the style memory (the reference's
    ``self_attn`` reads the memory as well; ``multihead_attn``, ``norm3`` and ``dropout3`` are
    the decoder's own), then the feed-forward; post-norm."""

    def __init__(self, dropout: float) -> None:
        super().__init__(dropout)
        self.multihead_attn = nn.MultiheadAttention(
            D_MODEL, HEADS, dropout=dropout, batch_first=True
        )
        self.norm3 = nn.LayerNorm(D_MODEL)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, tgt: Tokens, memory: Tokens, query_pos: Tokens | None) -> Tokens:
        for attention, dropout, norm in (
            (self.self_attn, self.dropout1, self.norm1),
            (self.multihead_attn, self.dropout2, self.norm2),
        ):
            tgt = norm(tgt + dropout(_attend(attention, _plus(tgt, query_pos), memory, memory)))
        return self.norm3(tgt + self.dropout3(self.feed_forward(tgt)))


class Encoder(nn.Module):
    """Three copies of ``layer`` in a row (post-norm layers: no final norm, as the reference
    without ``normalize_before``)."""

    def __init__(self, layer: EncoderLayer) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(LAYERS))

    def forward(self, src: Tokens, pos: Tokens | None) -> Tokens:
        for layer in self.layers:
            src = layer(src, pos)
        return src


class Decoder(nn.Module):
    """Three copies of ``layer`` in a row, then LayerNorm (the reference's ``decoder_norm``)."""

    def __init__(self, layer: DecoderLayer) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(LAYERS))
        self.norm = nn.LayerNorm(D_MODEL)

    def forward(self, tgt: Tokens, memory: Tokens, query_pos: Tokens) -> Tokens:
        for layer in self.layers:
            tgt = layer(tgt, memory, query_pos)
        return self.norm(tgt)


def _tokens(grid: torch.Tensor) -> Tokens:
    return grid.flatten(2).transpose(1, 2)


class Transformer(nn.Module):
    """Content and style token maps in, the stylized content token map out (same grid as the
    content's). Matrices start Xavier-uniform as the reference's ``_reset_parameters`` draws
    them (``new_ps``, made after, keeps PyTorch's default)."""

    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        layer = EncoderLayer(dropout)  # one layer copied six times, as the reference's
        self.encoder_c = Encoder(layer)
        self.encoder_s = Encoder(layer)
        self.decoder = Decoder(DecoderLayer(dropout))
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)
        self.new_ps = nn.Conv2d(D_MODEL, D_MODEL, 1)
        self.averagepooling = nn.AdaptiveAvgPool2d(CAPE_GRID)

    def cape(self, content: torch.Tensor) -> torch.Tensor:
        """The content-aware positional encoding of a content token map [B, C, h, w]."""
        pooled = self.new_ps(self.averagepooling(content))
        return functional.interpolate(pooled, size=content.shape[-2:], mode="bilinear")

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``content`` [B, 512, h, w] stylized by ``style`` [B, 512, h', w'] (token maps)."""
        pos = _tokens(self.cape(content))
        memory = self.encoder_s(_tokens(style), None)
        encoded = self.encoder_c(_tokens(content), pos)
        out = self.decoder(encoded, memory, pos).transpose(1, 2).unflatten(2, content.shape[-2:])
        return memory_order_of(out, content)
