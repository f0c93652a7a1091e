"""The image embeddings of the embedding scores: CLIP, DINOv2 and CSD, as their publishers run them.

Text-to-image stylizers are compared by how close an output's embedding is to its style image's
(CLIP ViT-L/14 image embeddings; CSD, the style descriptor of Somepalli et al. 2024) and to its
content image's (DINOv2 ViT-B/14). Each network here is the `transformers` implementation (the
package users load these models with), built from its published configuration, with the weights
its publisher released on Hugging Face, read from the safetensors file itself:

- ``openai/clip-vit-large-patch14``: the vision tower and ``visual_projection`` of the full CLIP
  file (the text tower is not read); the embedding is ``image_embeds``.
- ``facebook/dinov2-base``: the file holds transformers 4's names, which transformers 5 renamed
  (`DINOV2_RENAMES`); the embedding is ``pooler_output``, the layer-normed class token.
- ``tomg-group-umd/CSD-ViT-L``: CSD's ``CSD_CLIP`` as its ``PyTorchModelHubMixin`` saves it: the
  OpenAI CLIP ViT-L/14 visual trunk under ``backbone.`` (OpenAI's own names, mapped here onto
  transformers' CLIP vision model, `csd_trunk_state`) and the two heads ``last_layer_style`` and
  ``last_layer_content``; the style embedding is ``normalize(trunk(x) @ last_layer_style)``.

Images are read as the publishers' evaluation code reads them: the 8-bit image (as stored) as a
PIL image, torchvision's bicubic ``Resize`` of the shorter side, ``CenterCrop``, ``ToTensor`` and
the network's normalisation (OpenAI CLIP's and CSD's ``transforms_branch0``: 224 / 224; DINOv2's
evaluation transform: 256 / 224). Weights come through `methods.core.weights` like every other
network's: the published file (downloaded once into torch's hub cache as ``<network>.safetensors``;
the URLs follow each repository's ``main``, so the record's SHA-256 of the weights is what
identifies them), a seeded random initialisation in the published layout (``--weights random``,
labelled), or a file. `transformers` is the optional ``embeddings`` extra.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

from stylebench.methods.core.weights import (
    WeightsIdentity,
    WeightsSource,
    WeightsUnavailable,
    resolve_state_dict,
    state_dict_sha256,
)
from stylebench.metrics.base import to_pixels

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HUB = "https://huggingface.co"
EXTRA = "pip install 'stylebench[embeddings]'"
#: What the embedding metrics import, and how to install it (`bench run` checks before compute).
EXTRA_PACKAGES = {"transformers": EXTRA, "safetensors": EXTRA}

#: transformers 4's DINOv2 names (those of the published file) and transformers 5's.
DINOV2_RENAMES = {
    ".attention.attention.query.": ".attention.q_proj.",
    ".attention.attention.key.": ".attention.k_proj.",
    ".attention.attention.value.": ".attention.v_proj.",
    ".attention.output.dense.": ".attention.o_proj.",
}

#: OpenAI CLIP's visual-trunk names (CSD's ``backbone.``) and transformers' CLIP vision names,
#: per block; the fused ``attn.in_proj_*`` is split into q / k / v by `csd_trunk_state`.
OPENAI_BLOCK_NAMES = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "attn.out_proj": "self_attn.out_proj",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
}

Family = Literal["clip", "dinov2", "csd"]


@dataclass(frozen=True)
class EmbeddingNetwork:
    """One published embedding network: where its weights are, its transformers configuration
    (``config``: the published values) and how its publisher reads an image."""

    name: str
    family: Family
    model_id: str
    file: str
    resize: int
    crop: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    config: dict = field(default_factory=dict)

    def __hash__(self) -> int:  # the settings dict is never changed after construction
        return hash((self.name, tuple(sorted(self.config.items()))))

    @property
    def url(self) -> str:
        return f"{HUB}/{self.model_id}/resolve/main/{self.file}"

    def describe(self) -> str:
        return (
            f"{self.model_id} (transformers), PIL image -> Resize({self.resize}, bicubic) -> "
            f"CenterCrop({self.crop}) -> ToTensor -> Normalize(mean={list(self.mean)}, "
            f"std={list(self.std)})"
        )


_VIT_L14 = dict(
    hidden_size=1024,
    intermediate_size=4096,
    num_hidden_layers=24,
    num_attention_heads=16,
    image_size=224,
    patch_size=14,
    hidden_act="quick_gelu",
    layer_norm_eps=1e-5,
)
CLIP_VIT_L14 = EmbeddingNetwork(
    "clip_vit_l14", "clip", "openai/clip-vit-large-patch14", "model.safetensors", 224, 224,
    OPENAI_MEAN, OPENAI_STD, {**_VIT_L14, "projection_dim": 768},
)  # fmt: skip
DINOV2_VITB14 = EmbeddingNetwork(
    "dinov2_vitb14", "dinov2", "facebook/dinov2-base", "model.safetensors", 256, 224,
    IMAGENET_MEAN, IMAGENET_STD,
    dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, mlp_ratio=4,
         patch_size=14, image_size=518, layerscale_value=1.0, layer_norm_eps=1e-6,
         hidden_act="gelu"),
)  # fmt: skip
#: ``style_dim``: the width of CSD's two heads (OpenAI's ``proj``, copied twice).
CSD_VIT_L = EmbeddingNetwork(
    "csd_vit_l", "csd", "tomg-group-umd/CSD-ViT-L", "model.safetensors", 224, 224,
    OPENAI_MEAN, OPENAI_STD, {**_VIT_L14, "style_dim": 768},
)  # fmt: skip


def _transformers():
    try:
        import transformers
    except ImportError as exc:
        raise WeightsUnavailable(
            f"the embedding scores need the transformers package; {EXTRA}"
        ) from exc
    return transformers


def _config(network: EmbeddingNetwork):
    transformers = _transformers()
    settings = {k: v for k, v in network.config.items() if k != "style_dim"}
    if network.family == "dinov2":
        return transformers.Dinov2Config(**settings)
    return transformers.CLIPVisionConfig(**settings)


def _module(network: EmbeddingNetwork, initialise: bool = True) -> nn.Module:
    """The transformers network of ``network``: transformers' random initialisation, or none
    (``initialise=False``, for a network whose every weight is loaded next: a ViT-L's takes
    five seconds on a CPU; transformers' own ``no_init_weights``, as its ``from_pretrained``)."""
    transformers = _transformers()
    config = _config(network)
    from transformers.initialization import no_init_weights

    skip = contextlib.nullcontext() if initialise else no_init_weights()
    with torch.random.fork_rng(devices=[]), skip:
        if network.family == "clip":
            return transformers.CLIPVisionModelWithProjection(config)
        if network.family == "dinov2":
            return transformers.Dinov2Model(config)
        return transformers.CLIPVisionModel(config)


def csd_trunk_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CSD's OpenAI-named trunk (``backbone.*``) under transformers' CLIP vision names (those
    of transformers 5's ``CLIPVisionModel``, which has no ``vision_model.`` prefix)."""
    trunk = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    mapped = {
        "embeddings.patch_embedding.weight": trunk.pop("conv1.weight"),
        "embeddings.class_embedding": trunk.pop("class_embedding"),
        "embeddings.position_embedding.weight": trunk.pop("positional_embedding"),
    }
    for openai, ours in (("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")):
        for part in ("weight", "bias"):
            mapped[f"{ours}.{part}"] = trunk.pop(f"{openai}.{part}")
    for name, tensor in trunk.items():
        index, module, part = _openai_block_key(name)
        prefix = f"encoder.layers.{index}."
        if module == "attn" and part in ("in_proj_weight", "in_proj_bias"):
            kind = part.removeprefix("in_proj_")
            for projection, chunk in zip(("q", "k", "v"), tensor.chunk(3), strict=True):
                mapped[f"{prefix}self_attn.{projection}_proj.{kind}"] = chunk
        else:
            mapped[f"{prefix}{OPENAI_BLOCK_NAMES[module]}.{part}"] = tensor
    return mapped


def _openai_block_key(name: str) -> tuple[str, str, str]:
    """``transformer.resblocks.<i>.<module>.<part>`` as ``(i, module, part)``."""
    parts = name.split(".")
    module = ".".join(parts[3:-1])
    if parts[:2] != ["transformer", "resblocks"] or not (
        module in OPENAI_BLOCK_NAMES or (module == "attn" and parts[-1].startswith("in_proj_"))
    ):
        raise WeightsUnavailable(f"unexpected key backbone.{name} in the CSD weights")
    return parts[2], module, parts[-1]


def _openai_trunk_layout(network: EmbeddingNetwork) -> dict[str, torch.Tensor]:
    """Seeded random weights in OpenAI's CLIP visual-trunk names (CSD's published layout):
    CLIP's initialisation scale (normal, std 0.02) for matrices and embeddings, unit layer norms."""
    c = network.config
    width, patch = c["hidden_size"], c["patch_size"]
    tokens = (c["image_size"] // patch) ** 2 + 1

    def normal(*shape: int) -> torch.Tensor:
        return torch.randn(shape) * 0.02

    state = {
        "conv1.weight": normal(width, 3, patch, patch),
        "class_embedding": normal(width),
        "positional_embedding": normal(tokens, width),
    }
    norms = ["ln_pre", "ln_post"]
    for i in range(c["num_hidden_layers"]):
        block = f"transformer.resblocks.{i}."
        norms += [f"{block}ln_1", f"{block}ln_2"]
        state |= {
            f"{block}attn.in_proj_weight": normal(3 * width, width),
            f"{block}attn.in_proj_bias": torch.zeros(3 * width),
            f"{block}attn.out_proj.weight": normal(width, width),
            f"{block}attn.out_proj.bias": torch.zeros(width),
            f"{block}mlp.c_fc.weight": normal(c["intermediate_size"], width),
            f"{block}mlp.c_fc.bias": torch.zeros(c["intermediate_size"]),
            f"{block}mlp.c_proj.weight": normal(width, c["intermediate_size"]),
            f"{block}mlp.c_proj.bias": torch.zeros(width),
        }
    for norm in norms:
        state |= {f"{norm}.weight": torch.ones(width), f"{norm}.bias": torch.zeros(width)}
    state = {f"backbone.{k}": v for k, v in state.items()}
    for head in ("last_layer_style", "last_layer_content"):
        state[head] = torch.randn(width, c["style_dim"]) * width**-0.5  # OpenAI's proj init
    return state


def published_layout(network: EmbeddingNetwork) -> dict[str, torch.Tensor]:
    """Seeded random weights (from the global RNG, which `resolve_state_dict` seeds) under the
    names and shapes of ``network``'s published file."""
    if network.family == "csd":
        return _openai_trunk_layout(network)
    state = _module(network).state_dict()  # transformers' own initialisation, from our seed
    if network.family == "dinov2":
        state = {_rename(k, {v: k for k, v in DINOV2_RENAMES.items()}): v for k, v in state.items()}
    return state


def _rename(name: str, renames: Mapping[str, str]) -> str:
    for old, new in renames.items():
        name = name.replace(old, new)
    return name


def network_state(network: EmbeddingNetwork, published: Mapping[str, torch.Tensor]) -> dict:
    """The transformers network's weights from the published file's: CLIP's vision part,
    DINOv2's names renamed, CSD's trunk mapped (its style head is read by `Embedder`). A
    transformers 4 file's ``position_ids`` buffer (not a weight) is left out."""
    if network.family == "clip":
        state = {k: v for k, v in published.items() if k.startswith(("vision_model.", "visual_"))}
    elif network.family == "dinov2":
        state = {_rename(k, DINOV2_RENAMES): v for k, v in published.items()}
    else:
        state = csd_trunk_state(published)
    return {k: v for k, v in state.items() if not k.endswith("position_ids")}


@functools.cache
def _expected(network: EmbeddingNetwork) -> dict[str, torch.Size]:
    with torch.device("meta"):
        return {k: v.shape for k, v in _module(network).state_dict().items()}


def layout_problems(network: EmbeddingNetwork, published: Mapping[str, torch.Tensor]) -> list:
    """What keeps ``published`` from loading into ``network`` (empty if nothing)."""
    try:
        state = network_state(network, published)
    except (KeyError, WeightsUnavailable) as exc:
        return [f"not the published layout ({exc})"]
    expected = _expected(network)
    problems = []
    given = set(state)
    if missing := sorted(expected.keys() - given):
        problems.append(f"missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unexpected := sorted(given - expected.keys()):
        problems.append(f"unexpected keys {unexpected[:5]}")
    if shaped := sorted(k for k in expected.keys() & given if state[k].shape != expected[k]):
        problems.append(f"mis-shaped keys {shaped[:5]}")
    if network.family == "csd":
        for head in ("last_layer_style", "last_layer_content"):
            shape = (network.config["hidden_size"], network.config["style_dim"])
            if head not in published or tuple(published[head].shape) != shape:
                problems.append(f"{head} missing or not of shape {shape}")
    return problems


def resolve_weights(
    network: EmbeddingNetwork, source: WeightsSource
) -> tuple[dict[str, torch.Tensor], WeightsIdentity]:
    """The published-layout weights of ``network`` from ``source``, and their identity (the
    hash of every tensor the embedding uses)."""
    _transformers()
    state, described = resolve_state_dict(
        network.name,
        source,
        random_init=lambda: published_layout(network),
        matches=lambda loaded: not layout_problems(network, loaded),
        url=network.url,
    )
    head = {k: v for k, v in state.items() if k == "last_layer_style"}
    used = network_state(network, state) | head
    source_text = f"{described} ({network.model_id})"
    return state, WeightsIdentity(network.name, source_text, state_dict_sha256(used))


class Embedder:
    """L2-normalised embeddings of images, one network loaded once per worker."""

    def __init__(
        self, network: EmbeddingNetwork, source: WeightsSource, device: torch.device
    ) -> None:
        published, self.identity = resolve_weights(network, source)
        module = _module(network, initialise=False)
        module.load_state_dict(network_state(network, published), strict=True)
        self.network = network
        self.module = module.requires_grad_(False).eval().to(device)
        self.head = published["last_layer_style"].to(device) if network.family == "csd" else None
        self.device = device
        self.transform = transforms.Compose(
            [
                transforms.Resize(
                    network.resize, interpolation=transforms.InterpolationMode.BICUBIC
                ),
                transforms.CenterCrop(network.crop),
                transforms.ToTensor(),
                transforms.Normalize(network.mean, network.std),
            ]
        )

    def describe(self) -> dict:
        return {"network": self.network.describe(), "weights": self.identity.as_dict()}

    @torch.no_grad()
    def pixels(self, images: list[np.ndarray]) -> torch.Tensor:
        """[B, D] unit-length embeddings of B [H, W, 3] uint8 images (as stored), each read as
        the publisher's evaluation reads an image file."""
        batch = torch.stack([self.transform(Image.fromarray(p)) for p in images]).to(self.device)
        output = self.module(pixel_values=batch)
        if self.network.family == "clip":
            embedding = output.image_embeds
        else:
            embedding = output.pooler_output
            if self.head is not None:
                embedding = embedding @ self.head
        return nn.functional.normalize(embedding.float(), dim=1)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """[B, D] unit-length embeddings of [B, 3, H, W] images in [0, 1] (rounded to 8 bits
        first, as every output is stored)."""
        return self.pixels(to_pixels(images))


@functools.cache
def shared_embedder(
    network: EmbeddingNetwork, source: WeightsSource, device: torch.device
) -> Embedder:
    """One `Embedder` per network, weights and device in a process: a worker's ``csd_style``
    and ``csd_style_csls`` share one CSD (a ViT-L is 1.2 GB and seconds to load)."""
    return Embedder(network, source, device)
