"""The one interface every style-transfer method implements.

A method is built from its typed config and a `MethodContext` (device, seed, and the encoders it
may borrow), is prepared once per style set, and then stylizes batches of content images:

    method = Gatys(config, context)
    method.prepare(styles)                 # nothing for Gatys; training for feed-forward nets
    result = method.stylize(content, style)  # NCHW in [0, 1] in, NCHW in [0, 1] out

Each method declares in `MethodNeeds` what a suite must provide, so a plan can be checked before
any compute is spent. Trained methods also expose ``state_dict()`` / ``load_state_dict()`` of
what `prepare` produced, so the harness can cache and reuse checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Protocol

import torch
from pydantic import BaseModel, ConfigDict, Field

from stylebench.methods.core.encoders import FeatureEncoder

#: A loss term's weight: not negative (a negative weight rewards the loss it weighs).
Weight = Annotated[float, Field(ge=0)]
#: Bounds that only a mistake exceeds (a typo, an extra zero): checked before any compute.
MAX_OPTIMIZATION_STEPS = 1_000_000
MAX_TRAINING_STEPS = 100_000_000
MAX_BATCH_SIZE = 1024
MAX_IMAGE_SIZE = 4096


class MethodConfig(BaseModel):
    """Base of every method's config: typed, unknown keys are errors, a preset is recorded,
    and no number is infinite or NaN (``lr: .inf`` can only be a mistake)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    preset: str = "paper"

    def check_image_size(self, size: int) -> None:
        """Raise ValueError when these settings cannot run on ``size`` px images (checked when a
        run is planned, so a bad combination stops before any compute, not in every cell)."""


@dataclass(frozen=True)
class MethodNeeds:
    """What a method needs from a suite.

    ``style``: ``pair`` (one style image per output), ``domain`` (maps content to the style set as
    a whole, e.g. CycleGAN). ``training``: needs a training split. ``guides``: uses semantic
    maps (the harness passes those the suite has; the method makes any that are missing).
    ``train_styles`` (trained methods): which styles one training run learns, so the harness can
    train once per style set: ``each`` (one network per style image, Johnson), ``all`` (every
    style of the suite in one network, conditional IN) or ``training`` (the suite's
    ``training.style`` images, else its styles; arbitrary-style networks, style domains) or
    ``none`` (training uses no style image at all, e.g. WCT's reconstruction decoders: one
    training serves every style set, and every style it stylizes is one it never saw).
    ``both_ways`` (domain methods): it also translates the style domain back to photos when its
    ``direction`` setting is ``style_to_photo`` (CycleGAN's second generator), so a suite with a
    ``reverse`` set scores that direction too, from the same training.
    ``blends``: it can stylize with a weighted blend of several style images
    (``stylize_blend``), so the harness runs it on a suite's blends (``style.blends``); methods
    that cannot are not run on blend cells and ``bench validate`` says so.
    """

    style: Literal["pair", "domain"] = "pair"
    training: bool = False
    guides: bool = False
    train_styles: Literal["each", "all", "training", "none"] = "all"
    both_ways: bool = False
    blends: bool = False


@dataclass
class MethodContext:
    """What the harness lends a method: where to run, the suite's seed (for training), and
    shared encoders (loaded once per worker)."""

    device: torch.device
    seed: int
    encoder: Callable[[str], FeatureEncoder]


class TrainingSet(Protocol):
    """Training content images, read lazily: the harness decides where they come from."""

    def __len__(self) -> int: ...

    def batch(self, indices: list[int]) -> torch.Tensor:
        """Images at ``indices`` as one [B, 3, H, W] tensor in [0, 1]."""
        ...


class TensorImages:
    """A `TrainingSet` over a [N, 3, H, W] tensor in [0, 1] already in memory (a notebook, a
    test, a benchmark); the harness reads files instead."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, indices: list[int]) -> torch.Tensor:
        return self.images[indices]


class PartialStore(Protocol):
    """Where a long training keeps its last partial state so that, interrupted, it resumes from
    there (the harness gives one per training job). States hold tensors, numbers, strings, and
    lists and dicts of them, so they are saved and read weights-only."""

    def load(self) -> dict[str, Any] | None:
        """The last saved state, or None."""
        ...

    def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state (atomically)."""
        ...


#: Told after every training step: the steps done, the steps planned, and that step's loss terms
#: (the harness shows training progress from it; it must be cheap).
StepReport = Callable[[int, int, dict[str, float]], None]


@dataclass
class PrepareData:
    """What `prepare` gets: the style set (all styles the method will be asked for) and, for
    trained methods, the training content.

    ``style_domain``: for methods that learn a style domain (``needs.style == "domain"``), its
    images, read lazily at the training size like the content (``styles`` is then empty).
    ``partial``: where a resumable training saves its progress (None: it does not).
    ``progress``: what a training reports each step to (None: nobody is watching).
    """

    styles: torch.Tensor
    training: TrainingSet | None = None
    style_domain: TrainingSet | None = None
    partial: PartialStore | None = None
    progress: StepReport | None = None


@dataclass
class Guides:
    """Semantic maps ([B, K, H, W] in [0, 1], usually RGB: the same colour is the same kind of
    region in both) for the content and the style images. Either is None where the suite has
    none; a method that uses guides makes the missing ones itself and says so in its notes."""

    content: torch.Tensor | None = None
    style: torch.Tensor | None = None


@dataclass(frozen=True)
class StyleBlend:
    """A weighted blend of style images: ``images`` (each [B, 3, H, W] in [0, 1], paired with
    the content batch like a style image) and ``weights``, one per image, positive and summing
    to 1. Methods stylize with it (``stylize_blend``) and style metrics score against it."""

    images: tuple[torch.Tensor, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.images) != len(self.weights) or len(self.images) < 2:
            raise ValueError("a blend has two or more images and one weight per image")
        if min(self.weights) <= 0 or abs(sum(self.weights) - 1) > 1e-6:
            raise ValueError(f"blend weights must be positive and sum to 1, got {self.weights}")

    def mix(self, values: Sequence[torch.Tensor]) -> torch.Tensor:
        """The weighted sum of one value per image (``sum_i weights[i] * values[i]``)."""
        return sum(
            (w * v for w, v in zip(self.weights, values, strict=True)),
            start=torch.zeros_like(values[0]),
        )

    def per_image(
        self,
        content: torch.Tensor,
        run: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """``run(content_i [1, 3, H, W], styles_i [K, 3, h, w], weights [1, K])`` for every
        content image i with its K blend images, concatenated: for networks that mix K styles
        shared by a batch (AdaIN's and SANet's ``weights``)."""
        weights = torch.tensor([self.weights], dtype=content.dtype, device=content.device)
        return torch.cat(
            [
                run(
                    content[i : i + 1],
                    torch.cat([image[i : i + 1] for image in self.images]),
                    weights,
                )
                for i in range(content.shape[0])
            ]
        )


@dataclass
class Stylized:
    """A batch of outputs in [0, 1], for iterative methods loss curves per image, and notes per
    image that the record keeps with the cell (e.g. how semantic maps were made)."""

    images: torch.Tensor
    curves: dict[str, list[list[float]]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)


class Method(Protocol):
    """A style-transfer method. Implementations hold no per-batch state between calls."""

    name: ClassVar[str]
    summary: ClassVar[str]
    paper: ClassVar[str]
    Config: ClassVar[type[MethodConfig]]
    presets: ClassVar[Mapping[str, Mapping[str, Any]]]
    needs: ClassVar[MethodNeeds]
    #: Feature networks the method borrows through ``context.encoder`` (checked before a run).
    encoders: ClassVar[tuple[str, ...]]
    #: True when ``stylize`` optimises each image (its cost is a number of steps, e.g. Gatys):
    #: latency is then one timed run; otherwise the median of repeats after a warm-up.
    iterative: ClassVar[bool]

    def __init__(self, config: MethodConfig, context: MethodContext) -> None: ...

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Get ready for this style set (train or load a network); returns training curves."""
        ...

    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor | None,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """Stylize ``content`` [B,3,H,W] with ``style`` [B,3,H,W]; both in [0, 1].

        Domain methods (``needs.style == "domain"``) map content to the style domain they were
        trained on and get ``style=None`` from the harness (a style image given is ignored).
        ``seeds`` (one per image) make any randomness per image, so a batch gives the same
        images as stylizing its pairs one by one.
        """
        ...


class BlendingMethod(Method, Protocol):
    """A method whose ``needs.blends`` is true: it stylizes with a blend of several styles."""

    def stylize_blend(
        self, content: torch.Tensor, blend: StyleBlend, seeds: Sequence[int] | None = None
    ) -> Stylized:
        """Stylize ``content`` [B,3,H,W] with ``blend``: each method blends what it matches or
        conditions on (weighted Gram targets, style codes, AdaIN targets)."""
        ...


class TrainedMethod(Method, Protocol):
    """A method whose ``needs.training`` is true: `prepare` trains (or, with a ``checkpoint``
    setting, loads) a network, and what it produced can be saved and loaded again, so the
    harness trains once per style set, caches the result and lets workers only load it."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything `prepare` produced, as CPU tensors (saved with ``torch.save``)."""
        ...

    def load_state_dict(
        self, state: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> None:
        """Load ``state`` strictly; raise `methods.core.checkpoints.CheckpointMismatch`
        (listing missing, unexpected and mis-shaped keys, naming ``source``) if it does not fit."""
        ...


def resolve_config(method: type[Method], settings: Mapping[str, Any]) -> MethodConfig:
    """Build a method's config: preset values first, then the given settings on top."""
    preset = settings.get("preset", "paper")
    if preset not in method.presets:
        raise ValueError(
            f"{method.name} has no preset {preset!r}; presets: {', '.join(method.presets)}"
        )
    merged = {**method.presets[preset], **settings, "preset": preset}
    return method.Config.model_validate(merged)


#: Class attributes every method declares, with the types the harness relies on.
DECLARATIONS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "summary": str,
    "paper": str,
    "presets": Mapping,
    "needs": MethodNeeds,
    "encoders": tuple,
    "iterative": bool,
}


def contract_problems(cls: object) -> list[str]:
    """What keeps ``cls`` from being a `Method` the harness can plan and run (empty: none):
    checked when a method is loaded, so a plugin that forgot ``iterative`` fails at once with
    its name, not after an hour of training."""
    if not isinstance(cls, type):
        return [f"{cls!r} is not a class"]
    problems = [
        f"class attribute {attribute!r} must be a {kind.__name__}"  # type: ignore[union-attr]
        for attribute, kind in DECLARATIONS.items()
        if not isinstance(getattr(cls, attribute, None), kind)
    ]
    config = getattr(cls, "Config", None)
    if not (isinstance(config, type) and issubclass(config, MethodConfig)):
        problems.append("'Config' must be a subclass of stylebench.methods.base.MethodConfig")
    presets = getattr(cls, "presets", None)
    if isinstance(presets, Mapping):
        problems += [
            f"presets must include {preset!r} ({why})"
            for preset, why in (("paper", "the paper's settings"), ("smoke", "a tiny budget"))
            if preset not in presets
        ]
    methods = ["prepare", "stylize"]
    if isinstance(getattr(cls, "needs", None), MethodNeeds) and cls.needs.training:
        methods += ["state_dict", "load_state_dict"]
    if isinstance(getattr(cls, "needs", None), MethodNeeds) and cls.needs.blends:
        methods += ["stylize_blend"]
    problems += [f"method {m}() is missing" for m in methods if not callable(getattr(cls, m, None))]
    return problems
