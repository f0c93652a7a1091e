"""Novak & Nikulin (2016), "Improving the Neural Algorithm of Artistic Style" (arXiv 1605.04603).

Gatys' image optimisation with a richer style representation. Each modification is a switch;
the defaults are the paper's best combination:

- ``layer_weighting: exponential``: layer l at depth d(l) (1 = shallowest of the D layers used)
  weighs w_s = 2^(D - d(l)) in the style loss and w_c = 2^d(l) in the content loss, so shallow
  layers lead style and deep layers lead content. Weights are divided by their sum, so
  ``style_weight`` and ``content_weight`` keep the meaning of Gatys' beta and alpha (Gatys' 1/5
  per layer also sums to one); the ratios between layers are the paper's. ``equal``: Gatys'.
- ``all_layers: true``: all 16 convolution layers of VGG-19 (relu1_1 .. relu5_4) for style and
  for content; ``false``: ``style_layers`` / ``content_layers`` (Gatys' five and relu4_2).
- ``gram_shift: -1``: Grams of shifted activations (F + s)(F + s)^T; 0 turns it off.
- ``correlations: chain``: only correlations of neighbouring layers, the cross-layer Grams
  G^{l,l-1} = F^l [up(F^{l-1})]^T for l = 2..D (the smaller map upsampled, nearest neighbour);
  ``cross``: G^{l,k} for every pair k <= l; ``layer``: Gatys' G^{l,l}. A term's depth d is that
  of its deeper layer, so the chain's weights are 2^(D-2) .. 2^0.

Everything else (losses normalised as in Gatys' paper, E = sum (G - A)^2 / (4 N_l N_k M^2), average
pooling, white-noise start, L-BFGS) is the Gatys ``paper`` preset. The ``gatys`` preset turns
every switch off and is exactly Gatys' paper loss, for ablations. No code by the authors was
published, so there is no ``reference`` preset; the paper's "blurred
correlations" (reported slow and unreliable) are not implemented. The shift assumes the
activation scale of the normalised VGG-19 the paper used (mean activation 1); with torchvision's
weights activations have another scale, so s = -1 centres them only roughly.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import model_validator

from stylebench.methods.base import MethodNeeds
from stylebench.methods.core.encoders import conv_layers
from stylebench.methods.core.perceptual_loss import PerceptualSpec
from stylebench.methods.gatys import Gatys, GatysConfig

ALL_LAYERS = [name.replace("conv", "relu") for name in conv_layers("vgg19")]

LayerWeighting = Literal["exponential", "equal"]
Correlations = Literal["chain", "cross", "layer"]


def depth_weights(depths: list[int], count: int, kind: Literal["style", "content"]) -> list[float]:
    """Novak & Nikulin's layer weights, divided by their sum.

    ``depths``: d(l) of each term (1 = shallowest); ``count``: D, the number of layers used.
    Style: 2^(D - d); content: 2^d.
    """
    raw = [2.0 ** (count - d) if kind == "style" else 2.0**d for d in depths]
    total = sum(raw)
    return [w / total for w in raw]


def style_terms(layers: list[str], correlations: Correlations) -> list[tuple[str, str | None]]:
    """``(layer, partner)`` of each style term, deeper layer first; partner None = own Gram."""
    if correlations == "layer":
        return [(layer, None) for layer in layers]
    if correlations == "chain":
        return list(zip(layers[1:], layers[:-1], strict=True))
    return [
        (deep, None if k == i else layers[k]) for i, deep in enumerate(layers) for k in range(i + 1)
    ]


class ImprovedGatysConfig(GatysConfig):
    """Gatys' settings plus the paper's switches (defaults: the paper's best combination)."""

    layer_weighting: LayerWeighting = "exponential"
    all_layers: bool = True
    gram_shift: float = -1.0
    correlations: Correlations = "chain"

    @model_validator(mode="before")
    @classmethod
    def _all_layers_sets_the_layers(cls, data: Any) -> Any:
        """With ``all_layers`` the layer lists are all 16 layers (and say so in the record)."""
        if isinstance(data, dict) and data.get("all_layers", True):
            chosen = [
                k
                for k in ("style_layers", "content_layers")
                if data.get(k, ALL_LAYERS) != ALL_LAYERS
            ]
            if chosen:
                raise ValueError(f"set all_layers: false to choose {' and '.join(chosen)}")
            data = {**data, "style_layers": list(ALL_LAYERS), "content_layers": list(ALL_LAYERS)}
        return data

    @model_validator(mode="after")
    def _switches_fit(self) -> ImprovedGatysConfig:
        if self.layer_weighting == "exponential" and self.style_layer_weights is not None:
            raise ValueError("style_layer_weights needs layer_weighting: equal")
        if self.style_layer_weights is not None and self.correlations != "layer":
            raise ValueError("style_layer_weights needs correlations: layer")
        if self.correlations == "chain" and len(self.style_layers) < 2:
            raise ValueError("correlations: chain needs at least two style layers")
        return self


class ImprovedGatys(Gatys):
    """Gatys' image optimisation with Novak & Nikulin's style representation."""

    name: ClassVar[str] = "improved_gatys"
    summary: ClassVar[str] = (
        "image optimisation; all 16 VGG-19 layers, depth weights, shifted chain Grams"
    )
    paper: ClassVar[str] = "Novak & Nikulin, arXiv 1605.04603 (2016)"
    needs: ClassVar[MethodNeeds] = MethodNeeds(style="pair", blends=True)
    Config: ClassVar[type[ImprovedGatysConfig]] = ImprovedGatysConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "smoke": {"steps": 10, "phases": 2},
        "gatys": {
            "layer_weighting": "equal",
            "all_layers": False,
            "gram_shift": 0.0,
            "correlations": "layer",
        },
    }

    @staticmethod
    def perceptual_spec(config: ImprovedGatysConfig) -> PerceptualSpec:
        style_layers, content_layers = config.style_layers, config.content_layers
        terms = style_terms(style_layers, config.correlations)
        if config.layer_weighting == "exponential":
            depth = {layer: d for d, layer in enumerate(style_layers, start=1)}
            style = depth_weights([depth[t] for t, _ in terms], len(style_layers), "style")
            content = depth_weights(
                list(range(1, len(content_layers) + 1)), len(content_layers), "content"
            )
        else:
            style = (
                list(config.style_layer_weights)
                if config.style_layer_weights is not None
                else [1.0 / len(terms)] * len(terms)
            )
            content = [1.0] * len(content_layers)
        scale = config.style_weight * config.style_loss_scale
        return PerceptualSpec(
            content_layers=content_layers,
            content_weights=[config.content_weight * w for w in content],
            content_reduction=config.content_reduction,
            style_layers=[layer for layer, _ in terms],
            style_partners=[partner for _, partner in terms],
            style_weights=[scale * w for w in style],
            gram_norm=config.gram_norm,
            gram_shift=config.gram_shift,
            tv_weight=config.tv_weight,
        )
