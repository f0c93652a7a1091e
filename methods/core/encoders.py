"""Feature encoders: the contract every registered one honours, and VGG with named layers.

One encoder serves every loss in stylebench: the optimisation methods, the loss networks of the
feed-forward methods, and the evaluation metrics. The VGG encoder takes RGB images in [0, 1],
applies the ImageNet normalisation torchvision's weights expect, and runs only as deep as the
deepest layer asked for, so asking for ``relu2_2`` never pays for block 5. A ``conv*_*`` layer
is the convolution's output before its ReLU, whatever else is asked for.

Methods and metrics borrow encoders by name (``context.encoder("vgg19")``), and `load_encoder`
finds the name in the encoder registry (`stylebench.registry.ENCODERS`): the built-ins below and
``stylebench.encoders`` entry points alike, each checked against `Encoder` (`contract_problems`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import torch
from torch import nn
from torchvision import models

from stylebench.methods.core.exact_batches import ExactBatches
from stylebench.methods.core.packed_conv import packed_convolutions
from stylebench.methods.core.weights import (
    WeightsIdentity,
    WeightsSource,
    WeightsUnavailable,
    resolve_state_dict,
    state_dict_sha256,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Convolutions per block for each architecture.
BLOCKS: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}

Pooling = Literal["max", "avg"]
Precision = Literal["float32", "bfloat16"]


def layer_names(arch: str) -> list[str]:
    """Names of the modules of torchvision's ``<arch>().features``, in order."""
    names: list[str] = []
    for block, convs in enumerate(BLOCKS[arch], start=1):
        for conv in range(1, convs + 1):
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
        names.append(f"pool{block}")
    return names


def conv_layers(arch: str) -> list[str]:
    """The convolution layers of ``arch`` in order (16 for VGG-19)."""
    return [name for name in layer_names(arch) if name.startswith("conv")]


def _skeleton(arch: str) -> nn.Sequential:
    """The trunk's modules on the meta device: shapes without the cost of initialising (the
    whole classifier included) a network whose weights are loaded next anyway."""
    with torch.device("meta"):
        return getattr(models, arch)(weights=None).features


def _random_features(arch: str) -> dict[str, torch.Tensor]:
    """Random trunk weights drawn from the global RNG (which `resolve_state_dict` seeds) with
    torchvision's VGG initialisation: He-normal (fan-out) convolutions, zero biases. Only the
    trunk is drawn: building the whole network would also draw its 120M-parameter classifier,
    which no encoder uses, at about a second per load."""
    features = _skeleton(arch).to_empty(device="cpu")
    for module in features:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return features.state_dict()


def _features_only(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Accept a whole torchvision VGG state dict or just its ``features`` part."""
    if any(key.startswith("features.") for key in state):
        return {
            k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")
        }
    return dict(state)


def _fits(arch: str, state: Mapping[str, torch.Tensor]) -> bool:
    expected = _skeleton(arch).state_dict()
    features = _features_only(state)
    return features.keys() == expected.keys() and all(
        features[k].shape == expected[k].shape for k in expected
    )


@dataclass(frozen=True)
class Execution:
    """How an encoder runs, never what it computes: the features it returns have the dtype of
    the images it gets (float32) and NCHW indexing whatever is set here.

    ``channels_last``: images and weights in NHWC memory order (the layout tensor-core GPUs
    convolve fastest). ``precision``: ``bfloat16`` runs the trunk under bfloat16 autocast and
    returns its features as float32, so Gram matrices and losses stay float32; only the
    convolutions round more coarsely. ``compile``: the trunk goes through ``torch.compile``
    (the first calls at each image size pay for compiling). ``exact_batches``: layers whose
    kernels round differently in a batch run image by image (`ExactBatches`), so a batch gives
    every image the bits it gets alone; ignored under ``compile``, which picks its own kernels.
    ``packed_weights``: on CPU in float32, convolutions over small maps use weights packed once
    for oneDNN (`methods.core.packed_conv`); ignored under ``compile``.
    """

    channels_last: bool = False
    precision: Precision = "float32"
    compile: bool = False
    exact_batches: bool = True
    packed_weights: bool = True


#: How a training loss network runs: a training batch is one sample of the data, not a set of
#: independent results, so it need not give each image the bits it gets alone. PyTorch's own
#: convolutions: at training sizes (256 px crops) packed weights would reach at most VGG's last
#: block, and rounding differences early in a short training grow into other weights.
TRAINING = Execution(exact_batches=False, packed_weights=False)


def _batched(index: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return module(x)


def _out_of_place(features: nn.Sequential) -> nn.Sequential:
    """``features`` with out-of-place ReLUs, sharing every other module (and so the weights).

    torchvision's ReLUs work in place: they would overwrite the convolution output a
    ``conv*_*`` tap has just returned, so the tap would hold the next ``relu*_*`` whenever a
    deeper layer is asked for too (the PyTorch style tutorial swaps its ReLUs for this reason).
    """
    return nn.Sequential(
        *(nn.ReLU() if isinstance(m, nn.ReLU) and m.inplace else m for m in features)
    )


class FeatureEncoder(nn.Module):
    """A frozen VGG trunk that returns the activations of named layers."""

    def __init__(
        self,
        arch: str,
        features: nn.Sequential,
        identity: WeightsIdentity,
        execution: Execution = Execution(),
    ) -> None:
        super().__init__()
        self.arch = arch
        self.identity = identity
        self.names = layer_names(arch)
        self.layers = _out_of_place(features)
        self.execution = execution
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()
        self._trunk = torch.compile(self._run_trunk) if execution.compile else self._run_trunk
        exact = execution.exact_batches and not execution.compile
        self._run_layer = ExactBatches() if exact else _batched
        packed = execution.packed_weights and not execution.compile
        self._packed = packed_convolutions(self.layers) if packed else {}

    def with_pooling(self, pooling: Pooling) -> FeatureEncoder:
        """A copy sharing these weights whose pooling layers are max (default) or average."""
        if pooling == "max":
            return self
        layers = nn.Sequential(
            *(
                nn.AvgPool2d(kernel_size=2, stride=2) if isinstance(m, nn.MaxPool2d) else m
                for m in self.layers
            )
        )
        return FeatureEncoder(self.arch, layers, self.identity, self.execution).to(self.mean.device)

    def running(self, execution: Execution) -> FeatureEncoder:
        """A copy that runs as ``execution`` says. Channels-last copies the weights (into NHWC
        order), so the encoder it came from, shared with the metrics, is left as it was."""
        if execution == self.execution:
            return self
        layers = self.layers
        if execution.channels_last and not self.execution.channels_last:
            layers = copy.deepcopy(layers).to(memory_format=torch.channels_last)
        return FeatureEncoder(self.arch, layers, self.identity, execution).to(self.mean.device)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"{self.arch} has no layer {name!r}; layers are named like conv4_2, relu4_2, pool4"
            ) from None

    def forward(self, images: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = {self.index(name): name for name in layers}
        x = (images - self.mean) / self.std
        if self.execution.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        bfloat16 = self.execution.precision == "bfloat16"
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bfloat16):
            out = self._trunk(x, wanted)
        return {name: value.to(x.dtype) for name, value in out.items()}

    def _run_trunk(self, x: torch.Tensor, wanted: dict[int, str]) -> dict[str, torch.Tensor]:
        """Run the trunk only as deep as the deepest wanted layer."""
        out: dict[str, torch.Tensor] = {}
        for i, module in enumerate(self.layers[: max(wanted) + 1]):
            x = self._run_layer(i, self._packed.get(i, module), x)
            if i in wanted:
                out[wanted[i]] = x
        return out


def load_vgg(arch: str, source: WeightsSource) -> FeatureEncoder:
    """Build a VGG-16 or VGG-19 feature encoder with weights from ``source``."""
    if arch not in BLOCKS:
        raise KeyError(f"unknown encoder {arch!r}; choose one of {sorted(BLOCKS)}")
    state, described = resolve_state_dict(
        arch,
        source,
        random_init=lambda: _random_features(arch),
        matches=lambda s: _fits(arch, s),
    )
    features = _skeleton(arch)
    features.load_state_dict(_features_only(state), strict=True, assign=True)
    identity = WeightsIdentity(
        network=arch, source=described, sha256=state_dict_sha256(features.state_dict())
    )
    return FeatureEncoder(arch, features, identity)


class Encoder(Protocol):
    """A feature network registered under a name (a built-in, or a ``stylebench.encoders``
    entry point naming a class like this one).

    ``load(source)`` builds the network with weights from ``source`` (``random`` included: the
    smoke suite runs on seeded random weights; `resolve_state_dict` handles all three sources):
    a frozen ``nn.Module`` in eval mode, with an ``identity`` (`WeightsIdentity`, recorded with
    every result), taking RGB NCHW float32 images in [0, 1]. With ``layers`` declared, it is
    called ``encoder(images, names)`` and returns ``{name: features}`` (like `FeatureEncoder`);
    with none, ``encoder(images)`` returns one feature map (like `InceptionTrunk`).
    """

    #: One line for ``bench ls encoders``: the network, its weights, its input.
    summary: ClassVar[str]
    #: Names ``encoder(images, names)`` accepts, shallow to deep; empty for a single output.
    layers: ClassVar[tuple[str, ...]]

    @staticmethod
    def load(source: WeightsSource) -> nn.Module: ...


def contract_problems(cls: object) -> list[str]:
    """What keeps ``cls`` from being an `Encoder` (empty: none): checked when it is looked up,
    before any weights are loaded."""
    if not isinstance(cls, type):
        return [f"{cls!r} is not a class"]
    problems = []
    if not isinstance(getattr(cls, "summary", None), str):
        problems.append("class attribute 'summary' must be a str")
    layers = getattr(cls, "layers", None)
    if not (isinstance(layers, tuple) and all(isinstance(n, str) for n in layers)):
        problems.append("class attribute 'layers' must be a tuple of layer names (str)")
    if not callable(getattr(cls, "load", None)):
        problems.append("static method load(source) is missing")
    return problems


def network_problems(network: Any) -> list[str]:
    """What keeps what an encoder's ``load`` returned from being used (empty: none)."""
    if not isinstance(network, nn.Module):
        return [f"load() returned a {type(network).__name__}, not a torch.nn.Module"]
    if not isinstance(getattr(network, "identity", None), WeightsIdentity):
        return ["load() returned a network without an 'identity' (a WeightsIdentity)"]
    return []


class VGG16:
    """VGG-16's trunk: the loss network of the feed-forward methods and of LPIPS."""

    summary: ClassVar[str] = (
        "VGG-16 trunk (torchvision's ImageNet weights), layers conv1_1 .. pool5"
    )
    layers: ClassVar[tuple[str, ...]] = tuple(layer_names("vgg16"))

    @staticmethod
    def load(source: WeightsSource) -> FeatureEncoder:
        return load_vgg("vgg16", source)


class VGG19:
    """VGG-19's trunk: the optimisation methods' network and the evaluation losses'."""

    summary: ClassVar[str] = (
        "VGG-19 trunk (torchvision's ImageNet weights), layers conv1_1 .. pool5"
    )
    layers: ClassVar[tuple[str, ...]] = tuple(layer_names("vgg19"))

    @staticmethod
    def load(source: WeightsSource) -> FeatureEncoder:
        return load_vgg("vgg19", source)


def load_encoder(name: str, source: WeightsSource) -> nn.Module:
    """The registered encoder ``name`` (built-in or plugin) with weights from ``source``.

    `WeightsUnavailable` passes through (the caller says what to do instead); a plugin's network
    that fails to build or breaks the contract is one `PluginError` naming its entry point.
    """
    from stylebench.registry import ENCODERS, PluginError, one_line

    entry, encoder = ENCODERS.entry(name), ENCODERS.get(name)
    try:
        network = encoder.load(source)
    except WeightsUnavailable:
        raise
    except Exception as exc:
        if entry.origin == "built-in":
            raise
        raise PluginError(
            f"encoder {name!r} ({entry.describe()}) failed to load its network: {one_line(exc)}"
        ) from None
    problems = network_problems(network)
    if problems:
        raise PluginError(
            f"encoder {name!r} ({entry.describe()}) does not honour the encoder contract: "
            f"{'; '.join(problems)}"
        )
    return network
