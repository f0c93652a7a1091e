"""The "normalised VGG-19" of AdaIN (Huang & Belongie, ICCV 2017) and SANet (Park & Lee, CVPR
2019), up to ``relu5_1``.

A different network from torchvision's VGG-19: it starts with a 1x1 convolution 3 -> 3 that
takes RGB in [0, 1] to the mean-subtracted 0-255 BGR the Caffe weights expect (so images go in
as they are, with no normalisation here), pads every 3x3 convolution by reflection instead of
zeros, and max-pools with ``ceil_mode``. Its weights were rescaled (Gatys et al.) so that every
layer's mean activation is about one. The layout is github:naoto0804/pytorch-AdaIN's ``net.vgg``:
one ``nn.Sequential`` of 53 modules to ``relu5_4``, so its published ``vgg_normalised.pth`` has
integer keys (``0.weight``, ``2.weight``, ``5.weight``, ...) and loads strictly. The first 44
modules (to ``relu5_1``, the deepest layer SANet reads; github:GlebSBrykin/SANET keeps the same
44) are kept: one encoder serves both methods, and AdaIN, which stops at ``relu4_1`` (the first
31 modules, as naoto0804's code keeps), never runs the rest, since a forward pass goes only as
deep as the deepest layer asked for.

Weights come from `methods.core.weights` like every backbone's: ``pretrained`` (the reference
code's release file, downloaded once into torch's hub cache), a local file or folder, or seeded
random weights (He-normal, zero biases, so activations keep their scale through the trunk).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

import torch
from torch import nn

from stylebench.methods.core.checkpoints import CheckpointMismatch, check_state_dict
from stylebench.methods.core.weights import (
    PRETRAINED_URLS,
    WeightsIdentity,
    WeightsSource,
    WeightsUnavailable,
    hub_cache_dir,
    resolve_state_dict,
    state_dict_sha256,
)

NETWORK = "vgg_normalised"

#: Output channels of each block's 3x3 convolutions (VGG-19: 2, 2, 4, 4, 4 per block).
BLOCKS: tuple[tuple[int, ...], ...] = (
    (64, 64),
    (128, 128),
    (256, 256, 256, 256),
    (512, 512, 512, 512),
    (512, 512, 512, 512),
)

#: The last layer AdaIN uses (what the decoder inverts), and the layers its style loss reads.
DEEPEST = "relu4_1"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
#: The last layer of the kept trunk: SANet's second attention level and deepest style layer.
LAST = "relu5_1"
#: The smallest image side that reads relu5_1 (1/16 of the image; pooling rounds up): at 16 px
#: or less it is one position, whose standard deviation is not defined (or, over H*W, zero).
SMALLEST = 17


def check_relu5_1_size(method: str, size: int) -> None:
    """Refuse a side too small for a method that takes statistics at ``relu5_1`` (sanet,
    adaattn): checked when a run is planned and again on every batch it stylizes."""
    if size < SMALLEST:
        raise ValueError(
            f"{method} needs images with a side of at least {SMALLEST} px, got {size}: "
            "relu5_1 (1/16 of the image) would be one position"
        )


def layer_names() -> list[str]:
    """Names of the 53 modules of the full layout, in order (``pad`` precedes each 3x3 conv)."""
    names = ["conv0"]
    for block, widths in enumerate(BLOCKS, start=1):
        for conv in range(1, len(widths) + 1):
            names += [f"pad{block}_{conv}", f"conv{block}_{conv}", f"relu{block}_{conv}"]
        if block < len(BLOCKS):
            names.append(f"pool{block}")
    return names


def depth(layer: str) -> int:
    """How many modules of the layout run to produce ``layer`` (``relu4_1``: 31)."""
    return layer_names().index(layer) + 1


#: Modules kept: everything up to and including `LAST` (44).
TRUNK = depth(LAST)


def layout() -> nn.Sequential:
    """The full 53-module network (weights at PyTorch's default init; loaded next anyway)."""
    modules: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    channels = 3
    for block, widths in enumerate(BLOCKS, start=1):
        for width in widths:
            modules += [nn.ReflectionPad2d(1), nn.Conv2d(channels, width, 3), nn.ReLU()]
            channels = width
        if block < len(BLOCKS):
            modules.append(nn.MaxPool2d(2, 2, 0, ceil_mode=True))
    return nn.Sequential(*modules)


def _skeleton() -> nn.Sequential:
    """The full layout on the meta device: key names and shapes without initialising."""
    with torch.device("meta"):
        return layout()


def _random_trunk() -> dict[str, torch.Tensor]:
    """Seeded random trunk weights (the global RNG, which `resolve_state_dict` seeds)."""
    trunk = layout()[:TRUNK]
    for module in trunk:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return trunk.state_dict()


def _where(source: WeightsSource) -> str:
    """Where the weights of ``source`` were read from (a bad download stays in the cache)."""
    if source.kind == "pretrained":
        return str(hub_cache_dir() / PRETRAINED_URLS[NETWORK].rsplit("/", 1)[-1])
    return source.describe()


def _fits(state: Mapping[str, torch.Tensor], source: WeightsSource) -> bool:
    """True for the published layout; otherwise one error listing every wrong key and shape."""
    try:
        check_state_dict(_skeleton().state_dict(), state, f"{_where(source)} for {NETWORK}")
    except CheckpointMismatch as exc:
        raise WeightsUnavailable(
            f"{exc} (expected naoto0804/pytorch-AdaIN's vgg_normalised.pth, the whole network)"
        ) from None
    return True


def _trunk_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The keys of the first `TRUNK` modules (a whole file also holds relu5_2 .. relu5_4)."""
    return {k: v for k, v in state.items() if int(k.split(".", 1)[0]) < TRUNK}


class NormalisedVGG(nn.Module):
    """Frozen trunk to ``relu5_1``: RGB [B, 3, H, W] in [0, 1] -> named activations."""

    def __init__(self, layers: nn.Sequential, identity: WeightsIdentity) -> None:
        super().__init__()
        self.identity = identity
        self.names = layer_names()[:TRUNK]
        self.layers = layers
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """The activations of ``layers``, running only as deep as the deepest one."""
        wanted = {}
        for name in layers:
            if name not in self.names:
                raise KeyError(f"{NETWORK} has no layer {name!r}; layers: conv0 .. {LAST}")
            wanted[self.names.index(name)] = name
        out: dict[str, torch.Tensor] = {}
        x = images
        for index, module in enumerate(self.layers[: max(wanted) + 1]):
            x = module(x)
            if index in wanted:
                out[wanted[index]] = x
        return out


def load_normalised_vgg(source: WeightsSource) -> NormalisedVGG:
    """The trunk with weights from ``source`` (a whole ``vgg_normalised.pth`` state dict)."""
    state, described = resolve_state_dict(
        NETWORK,
        source,
        random_init=_random_trunk,
        matches=lambda s: _fits(s, source),
    )
    trunk = _skeleton()[:TRUNK]
    trunk.load_state_dict(_trunk_state(state), strict=True, assign=True)
    identity = WeightsIdentity(
        network=NETWORK, source=described, sha256=state_dict_sha256(trunk.state_dict())
    )
    return NormalisedVGG(trunk, identity)


class NormalisedVGG19:
    """The registered ``vgg_normalised`` encoder: AdaIN's and SANet's encoder and loss network."""

    summary: ClassVar[str] = (
        "AdaIN's normalised VGG-19 (naoto0804/pytorch-AdaIN's vgg_normalised.pth), "
        "layers conv0 .. relu5_1"
    )
    layers: ClassVar[tuple[str, ...]] = tuple(layer_names()[:TRUNK])
    load = staticmethod(load_normalised_vgg)


def mirrored_decoder(layer: str = DEEPEST) -> nn.Sequential:
    """The decoder that inverts the trunk to ``layer`` (default `DEEPEST`), as the reference
    codes lay it out, so a published decoder loads as it is: AdaIN's and SANet's ``decoder.pth``
    (both codes write the same 29-module ``nn.Sequential`` for ``relu4_1``) and WCT's
    ``feature_invertor_conv{1..5}_1.pth`` (2, 9, 16, 29 and 42 modules), which have the same
    form. The trunk's 3x3 convolutions to ``layer`` in reverse order with their channels
    swapped, each after a reflection pad and before a ReLU, nearest x2 up-sampling where the
    trunk pools, no ReLU after the last convolution. The 1x1 ``conv0`` is not mirrored: the
    decoder ends at the RGB image directly."""
    modules: list[nn.Module] = []
    for module in reversed(_skeleton()[1 : depth(layer)]):
        if isinstance(module, nn.Conv2d):
            conv = nn.Conv2d(module.out_channels, module.in_channels, 3)
            modules += [nn.ReflectionPad2d(1), conv, nn.ReLU()]
        elif isinstance(module, nn.MaxPool2d):
            modules.append(nn.Upsample(scale_factor=2, mode="nearest"))
    return nn.Sequential(*modules[:-1])
