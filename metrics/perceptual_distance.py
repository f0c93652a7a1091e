"""LPIPS (Zhang et al., CVPR 2018), version 0.1, between each content image and its output.

Computed by the `lpips` package itself, so the number is the package's. Its calibrated linear
heads ship inside the package; its backbone (AlexNet for ``lpips``, VGG-16 for ``lpips_vgg``)
never downloads on its own: the package builds it random (``pnet_rand=True``) and stylebench then
loads the weights it resolved through `methods.core.weights` (pretrained from the hub cache,
seeded random, or a file), so the recorded identity is exactly what ran. Inputs in [0, 1] are
mapped to the [-1, 1] the package expects.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar, Literal

import lpips
import torch
from torchvision import models

from stylebench.methods.core.encoders import FeatureEncoder, load_vgg
from stylebench.methods.core.weights import (
    WeightsIdentity,
    WeightsSource,
    resolve_state_dict,
    state_dict_sha256,
)
from stylebench.metrics.base import ImageMetric, MetricContext, MetricInfo

LPIPS_VERSION = "0.1"

Backbone = Literal["alex", "vgg"]


def _alexnet_features() -> torch.nn.Sequential:
    with torch.random.fork_rng(devices=[]):
        return models.alexnet(weights=None).features


def _features_part(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Accept a whole torchvision state dict or just its ``features`` part."""
    if any(key.startswith("features.") for key in state):
        return {
            k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")
        }
    return dict(state)


def _alexnet_fits(state: Mapping[str, torch.Tensor]) -> bool:
    expected = _alexnet_features().state_dict()
    features = _features_part(state)
    return features.keys() == expected.keys() and all(
        features[k].shape == expected[k].shape for k in expected
    )


def backbone_features(
    net: Backbone, weights: WeightsSource, encoder: Callable[[str], FeatureEncoder]
) -> tuple[dict, str, str]:
    """``(features state dict, source description, sha256)`` of the backbone ``net`` uses.

    VGG-16 is the shared encoder's (one VGG per worker); AlexNet comes from the weights module.
    """
    if net == "vgg":
        vgg = encoder("vgg16")
        return vgg.layers.state_dict(), vgg.identity.source, vgg.identity.sha256
    state, described = resolve_state_dict(
        "alexnet",
        weights,
        random_init=lambda: _alexnet_features().state_dict(),
        matches=_alexnet_fits,
    )
    features = _features_part(state)
    return features, described, state_dict_sha256(features)


def build_lpips(net: Backbone, features: Mapping[str, torch.Tensor]) -> lpips.LPIPS:
    """The package's LPIPS v0.1 with its trunk given ``features`` (torchvision ``features`` keys)
    and its calibrated heads read from the file the package ships.

    The modules are built on the meta device and every tensor is then loaded (strictly), so no
    time goes into random weights that would be overwritten (the package's VGG-16 would also
    draw a 120M-parameter classifier it never uses)."""
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(
            net=net, version=LPIPS_VERSION, pretrained=False, pnet_rand=True, verbose=False
        )
    model = model.to_empty(device="cpu")
    heads = Path(lpips.__file__).parent / "weights" / f"v{LPIPS_VERSION}" / f"{net}.pth"
    # The package slices torchvision's ``features`` keeping each module's index: slice2.3.weight
    # is features.3.weight.
    trunk = {f"net.{name}": features[name.split(".", 1)[1]] for name in model.net.state_dict()}
    scaling = {f"scaling_layer.{k}": v for k, v in lpips.ScalingLayer().state_dict().items()}
    lins = torch.load(heads, map_location="cpu", weights_only=True)
    # ``lins`` is a ModuleList over the same heads as lin0..lin4: both names carry them.
    lins |= {f"lins.{k[3]}{k[4:]}": v for k, v in lins.items() if k.startswith("lin")}
    model.load_state_dict({**trunk, **scaling, **lins}, strict=True)
    return model.requires_grad_(False).eval()


class LPIPS(ImageMetric):
    """How different the output looks from its content image, as people would judge it."""

    info = MetricInfo(
        name="lpips",
        higher_is_better=False,
        per="image",
        unit="",
        description="LPIPS v0.1 (AlexNet, lpips package), output vs content image",
        needs=("content",),
    )
    net: ClassVar[Backbone] = "alex"

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        features, source, backbone_sha = backbone_features(
            self.net, context.weights, context.encoder
        )
        self.model = build_lpips(self.net, features).to(context.device)
        self.identities = [
            WeightsIdentity(
                network=f"lpips-{self.net}-v{LPIPS_VERSION}",
                source=f"{source} (backbone sha256 {backbone_sha[:12]}); heads: lpips package",
                sha256=state_dict_sha256(self.model.state_dict()),
            )
        ]

    @classmethod
    def preflight(cls, weights: WeightsSource) -> None:
        backbone_features(cls.net, weights, lambda arch: load_vgg(arch, weights))

    @torch.no_grad()
    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor | None
    ) -> torch.Tensor:
        return self.model(outputs * 2 - 1, content * 2 - 1).flatten()


class LPIPSVGG(LPIPS):
    """LPIPS on a VGG-16 trunk: closer to a classic perceptual loss than the AlexNet default."""

    info = MetricInfo(
        name="lpips_vgg",
        higher_is_better=False,
        per="image",
        unit="",
        description="LPIPS v0.1 (VGG-16, lpips package), output vs content image",
        needs=("content",),
    )
    net: ClassVar[Backbone] = "vgg"


def pil_luma(images: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] images in [0, 1] to [B, 1, H, W] grey exactly as Pillow's ``convert("L")``
    makes it from their 8-bit pixels (ITU-R 601-2 luma in Pillow's 16-bit fixed point)."""
    pixels = torch.round(images.clamp(0, 1) * 255).to(torch.int64)
    weights = torch.tensor([19595, 38470, 7471], device=images.device).view(1, 3, 1, 1)
    grey = ((pixels * weights).sum(dim=1, keepdim=True) + 0x8000) >> 16
    return grey.to(images.dtype) / 255


class LPIPSGray(LPIPS):
    """LPIPS of the greyscale images: content preserved apart from colour (StyleID's
    ``LPIPS_gray``: torchvision's ``Grayscale()`` of the PNG files, whose one channel the
    package's input scaling spreads over three)."""

    info = MetricInfo(
        name="lpips_gray",
        higher_is_better=False,
        per="image",
        unit="",
        description="LPIPS v0.1 (AlexNet) of the greyscale output (8-bit, as stored) vs the "
        "greyscale content image, grey as Pillow's L mode (StyleID's LPIPS_gray)",
        needs=("content",),
    )

    @torch.no_grad()
    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor | None
    ) -> torch.Tensor:
        grey_out, grey_content = pil_luma(outputs), pil_luma(content)
        return self.model(grey_out * 2 - 1, grey_content * 2 - 1).flatten()
