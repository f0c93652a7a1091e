"""The method and encoder contracts as functions a plugin's own test suite calls.

stylebench's tests run them over every built-in method (``tests/methods/test_contract.py``) and
encoder (``tests/methods/test_encoders.py``), so a plugin that passes them meets the same bar.
Everything runs on the CPU at small sizes with seeded random weights and the method's ``smoke``
preset, in seconds::

    from stylebench.testing import check_encoder, check_method

    def test_my_method_honours_the_stylebench_contract(tmp_path):
        check_method(MyMethod, tmp_path)

    def test_my_encoder_honours_the_stylebench_contract():
        check_encoder(MyEncoder)

Each check raises `AssertionError` with what is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from stylebench.methods.base import (
    MethodContext,
    PrepareData,
    StyleBlend,
    TensorImages,
    contract_problems,
    resolve_config,
)
from stylebench.methods.core.encoders import contract_problems as encoder_problems
from stylebench.methods.core.encoders import load_encoder, network_problems
from stylebench.methods.core.weights import WeightsSource, read_state_dict

SIZE = 32
#: Side of the images an encoder is checked on (Inception-v3 needs at least 75 px).
ENCODER_SIZE = 96
#: Most steps a ``smoke`` preset may take (optimisation steps per image, or training steps).
SMOKE_STEPS = 100


def tiny_context(seed: int = 0) -> MethodContext:
    """CPU and seeded random encoders, loaded once per architecture."""
    encoders: dict[str, Any] = {}
    weights = WeightsSource.parse("random", seed=0)

    def encoder(arch: str) -> Any:
        if arch not in encoders:
            encoders[arch] = load_encoder(arch, weights)
        return encoders[arch]

    return MethodContext(device=torch.device("cpu"), seed=seed, encoder=encoder)


def _images(count: int, seed: int) -> torch.Tensor:
    return torch.rand(count, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def prepare(cls: type, context: MethodContext | None = None) -> tuple[Any, torch.Tensor]:
    """The method at its ``smoke`` preset, prepared on two random styles (and, for trained
    methods, four random training images), with the styles it can stylize."""
    method = cls(resolve_config(cls, {"preset": "smoke"}), context or tiny_context())
    styles = _images(2, 1)
    if cls.needs.training and cls.needs.train_styles == "each":
        styles = styles[:1]
    training = TensorImages(_images(4, 3)) if cls.needs.training else None
    if cls.needs.style == "domain":  # the style set is read lazily, like training content
        method.prepare(
            PrepareData(styles[:0], training=training, style_domain=TensorImages(styles))
        )
    else:
        method.prepare(PrepareData(styles=styles, training=training))
    return method, styles


def _style(cls: type, styles: torch.Tensor, count: int) -> torch.Tensor | None:
    if cls.needs.style == "domain":
        return None
    return styles[[i % len(styles) for i in range(count)]]


def check_declarations(cls: type) -> None:
    """The class attributes and methods the harness plans with (`contract_problems`), and a
    ``smoke`` preset small enough for a run in seconds."""
    problems = contract_problems(cls)
    assert not problems, f"{getattr(cls, '__name__', cls)}: {'; '.join(problems)}"
    config = resolve_config(cls, {"preset": "smoke"}).model_dump()
    steps = config.get("steps", 0)
    assert steps <= SMOKE_STEPS, f"the smoke preset takes {steps} steps; at most {SMOKE_STEPS}"
    for preset in cls.presets:
        resolved = resolve_config(cls, {"preset": preset})
        again = resolve_config(cls, resolved.model_dump(mode="json"))
        assert again == resolved, f"preset {preset!r} changes on its way to a worker (JSON)"


def check_output(cls: type, method: Any, styles: torch.Tensor) -> None:
    """Images in [0, 1], float32, finite, of the content's shape."""
    content = _images(1, 2)
    images = method.stylize(content, _style(cls, styles, 1), seeds=[7]).images
    assert images.shape == content.shape, f"output {tuple(images.shape)} for {tuple(content.shape)}"
    assert images.dtype == torch.float32, f"output dtype {images.dtype}"
    assert torch.isfinite(images).all(), "output has NaN or inf"
    assert images.min() >= 0 and images.max() <= 1, "output outside [0, 1]"


def check_batch_equals_one_by_one(
    cls: type, method: Any, styles: torch.Tensor, tolerance: float = 1e-3
) -> None:
    """A batch gives each pair the image it gets alone (within ``tolerance``: a briefly
    trained network's large normalisation scales amplify float32 rounding)."""
    content = _images(2, 4)
    batch = method.stylize(content, _style(cls, styles, 2), seeds=[1, 2]).images
    style = _style(cls, styles, 2)
    alone = torch.cat(
        [
            method.stylize(
                content[i : i + 1], None if style is None else style[i : i + 1], seeds=[i + 1]
            ).images
            for i in (0, 1)
        ]
    )
    difference = (batch - alone).abs().max().item()
    assert difference < tolerance, f"batch and one by one differ by {difference:.3g}"


def check_seeds(cls: type, method: Any, styles: torch.Tensor) -> None:
    """The same seeds give the same images (a benchmark must be repeatable)."""
    content = _images(1, 5)
    first = method.stylize(content, _style(cls, styles, 1), seeds=[3]).images
    second = method.stylize(content, _style(cls, styles, 1), seeds=[3]).images
    assert torch.equal(first, second), "the same seed gave different images"


def check_blend(cls: type, method: Any, styles: torch.Tensor, tolerance: float = 1e-3) -> None:
    """A method that can blend (``needs.blends``): a blend of two styles gives images like
    `check_output`'s, and a blend of a style image with itself is that style's transfer."""
    content = _images(1, 8)
    blend = StyleBlend((styles[0:1], styles[1:2]), (0.7, 0.3))
    images = method.stylize_blend(content, blend, seeds=[7]).images
    assert images.shape == content.shape, f"blend output {tuple(images.shape)}"
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1
    # Halves: 0.5 x + 0.5 x is x exactly in floating point, so targets and codes are x's.
    itself = method.stylize_blend(content, StyleBlend((styles[0:1],) * 2, (0.5, 0.5)), seeds=[7])
    alone = method.stylize(content, styles[0:1], seeds=[7]).images
    difference = (itself.images - alone).abs().max().item()
    assert difference < tolerance, f"a style blended with itself differs by {difference:.3g}"


def check_checkpoint_round_trip(
    cls: type, method: Any, styles: torch.Tensor, folder: Path, context: MethodContext
) -> None:
    """A trained method's state saved with ``torch.save`` loads weights-only into a fresh
    instance, which then stylizes identically."""
    path = folder / f"{cls.name}.pth"
    torch.save(method.state_dict(), path)
    fresh = cls(resolve_config(cls, {"preset": "smoke"}), context)
    fresh.load_state_dict(read_state_dict(path))
    content = _images(1, 6)
    style = _style(cls, styles, 1)
    assert torch.equal(
        fresh.stylize(content, style).images, method.stylize(content, style).images
    ), "a reloaded checkpoint stylizes differently"


def check_method(cls: type, folder: Path) -> None:
    """Every check above (``folder``: where a trained method's checkpoint is written)."""
    check_declarations(cls)
    context = tiny_context()
    method, styles = prepare(cls, context)
    check_output(cls, method, styles)
    check_batch_equals_one_by_one(cls, method, styles)
    check_seeds(cls, method, styles)
    if cls.needs.blends:
        check_blend(cls, method, styles)
    if cls.needs.training:
        check_checkpoint_round_trip(cls, method, styles, folder, context)


def check_encoder(cls: type) -> None:
    """An `Encoder` class (``stylebench.encoders`` entry point): its declarations; seeded
    random weights that are labelled random and repeat; a frozen network in eval mode; and a
    batch of images in [0, 1] giving finite float32 features per image, at the named layers
    ``cls.layers`` (first and last) when it declares any."""
    problems = encoder_problems(cls)
    assert not problems, f"{getattr(cls, '__name__', cls)}: {'; '.join(problems)}"
    network = cls.load(WeightsSource.parse("random", seed=0))
    problems = network_problems(network)
    assert not problems, "; ".join(problems)
    assert network.identity.is_random, (
        f"random weights are recorded as {network.identity.source!r}: results on them must "
        "never pass for pretrained ones (use resolve_state_dict's source description)"
    )
    again = cls.load(WeightsSource.parse("random", seed=0)).identity.sha256
    assert again == network.identity.sha256, "the same seed gave different random weights"
    assert not network.training, "the network is in training mode (call .eval())"
    trainable = [n for n, p in network.named_parameters() if p.requires_grad]
    assert not trainable, f"parameters {trainable[:3]} require grad (call .requires_grad_(False))"
    images = torch.rand(
        2, 3, ENCODER_SIZE, ENCODER_SIZE, generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        if cls.layers:
            wanted = [cls.layers[0], cls.layers[-1]]
            out = network(images, wanted)
            assert isinstance(out, dict) and set(out) == set(wanted), (
                f"encoder(images, {wanted}) returned {type(out).__name__} "
                f"{sorted(out) if isinstance(out, dict) else ''}, not a dict of those layers"
            )
            features = list(out.values())
        else:
            features = [network(images)]
    for value in features:
        assert isinstance(value, torch.Tensor) and value.shape[0] == 2, "not one map per image"
        assert value.dtype == torch.float32, f"features of dtype {value.dtype}, not float32"
        assert torch.isfinite(value).all(), "features with NaN or inf"
