"""The style transformer of magenta's image stylization models (Dumoulin et al. 2017; Ghiasi et
al. 2017), whose normalisation layers take their scale and shift from outside.

Layout (magenta ``image_stylization/model.py`` and ``arbitrary_image_stylization/nza_model.py``):
contract (9x9/1 to 32, 3x3/2 to 64, 3x3/2 to 128), five residual blocks of two 3x3 convs at 128
(the second without activation, then ``input + h``), expand (nearest x2 + 3x3 to 64, nearest x2 +
3x3 to 32, 9x9 to 3, sigmoid), so outputs are in [0, 1]. Every conv is reflection-padded
(``k // 2``), has no bias (the normalisation's shift replaces it) and starts from N(0, 0.01).

Every conv is followed by a *style normalisation*: instance norm (moments over H, W, eps 1e-5)
with a per-image ``gamma`` and ``beta`` given to `forward`. With ``contract_norm="batch"`` (the
arbitrary-style model) the three contract convs use batch norm instead (magenta's slim defaults:
eps 1e-3, decay 0.999) and only the other 13 layers are conditional.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

ContractNorm = Literal["conditional", "batch"]

#: (in, out, kernel, stride) of the contract convs and (in, out, kernel) of the expand convs.
CONTRACT = [(3, 32, 9, 1), (32, 64, 3, 2), (64, 128, 3, 2)]
EXPAND = [(128, 64, 3), (64, 32, 3), (32, 3, 9)]
RESIDUAL_BLOCKS = 5
WIDTH = 128


def style_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Instance-normalise ``x`` [B, C, H, W] and apply per-image ``gamma``, ``beta`` [B or 1, C]."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    normalised = (x - mean) / torch.sqrt(var + 1e-5)
    return normalised * gamma[:, :, None, None] + beta[:, :, None, None]


class PaddedConv(nn.Module):
    """Reflection padding ``k // 2``, then a bias-free conv initialised from N(0, 0.01)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride, bias=False)
        nn.init.normal_(self.conv.weight, 0.0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


class PasticheNet(nn.Module):
    """Content [B, 3, H, W] in [0, 1] -> stylized [B, 3, H, W] in [0, 1], styled by ``params``."""

    def __init__(self, contract_norm: ContractNorm = "conditional") -> None:
        super().__init__()
        self.contract_norm = contract_norm
        self.contract = nn.ModuleList(PaddedConv(*spec) for spec in CONTRACT)
        if contract_norm == "batch":
            self.contract_bn = nn.ModuleList(
                nn.BatchNorm2d(cout, eps=1e-3, momentum=1e-3) for _, cout, _, _ in CONTRACT
            )
        self.residual = nn.ModuleList(
            nn.ModuleList([PaddedConv(WIDTH, WIDTH, 3), PaddedConv(WIDTH, WIDTH, 3)])
            for _ in range(RESIDUAL_BLOCKS)
        )
        self.expand = nn.ModuleList(PaddedConv(cin, cout, k) for cin, cout, k in EXPAND)

    @property
    def norm_depths(self) -> list[int]:
        """Channels of each conditionally normalised layer, in the order `forward` uses them."""
        contract = [cout for _, cout, _, _ in CONTRACT] if self.contract_norm != "batch" else []
        return [*contract, *([WIDTH] * 2 * RESIDUAL_BLOCKS), *(cout for _, cout, _ in EXPAND)]

    def forward(
        self, x: torch.Tensor, params: Sequence[tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        """``params``: one ``(gamma, beta)`` pair per entry of `norm_depths`."""
        if len(params) != len(self.norm_depths):
            raise ValueError(f"expected {len(self.norm_depths)} (gamma, beta) pairs")
        norm = iter(params)
        h = x
        for i, conv in enumerate(self.contract):
            h = conv(h)
            h = (
                self.contract_bn[i](h)
                if self.contract_norm == "batch"
                else style_norm(h, *next(norm))
            )
            h = F.relu(h)
        for first, second in self.residual:
            r = F.relu(style_norm(first(h), *next(norm)))
            h = h + style_norm(second(r), *next(norm))
        for i, conv in enumerate(self.expand):
            if i < len(self.expand) - 1:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
                h = F.relu(style_norm(conv(h), *next(norm)))
            else:
                h = torch.sigmoid(style_norm(conv(h), *next(norm)))
        return h
