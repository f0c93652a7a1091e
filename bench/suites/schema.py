"""The typed suite definition: what a YAML suite may say, validated with errors that name the key."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ImageSet(BaseModel):
    """A set of images: listed files, a folder, a dataset's split, or generated (built-in suites).

    A dataset set takes a split's images sorted by file name (Unicode code point order), starting
    at ``first`` and taking every ``every``-th, at most ``count`` of them (default: all). ``files``
    beside ``dataset`` pins the names that rule picks, so a suite can list them explicitly.
    """

    model_config = ConfigDict(extra="forbid")

    files: list[str] | None = None
    folder: str | None = None
    generate: Literal["scenes", "paintings"] | None = None
    dataset: str | None = Field(None, description="a dataset of the catalogue, e.g. monet2photo")
    split: str | list[str] | None = Field(None, description="the dataset's split(s), e.g. testA")
    count: int | None = Field(None, ge=1)
    first: int = Field(0, ge=0, description="index of the first generated or picked image")
    every: int | None = Field(None, ge=1, description="take every n-th image of a dataset split")

    @model_validator(mode="after")
    def _one_source(self) -> ImageSet:
        given = [k for k in ("folder", "generate", "dataset") if getattr(self, k) is not None]
        files_alone_or_pinned = self.files is None or given in ([], ["dataset"])
        if len(given) > 1 or not (given or self.files is not None) or not files_alone_or_pinned:
            raise ValueError(
                "give exactly one of 'files', 'folder', 'generate' or 'dataset' "
                "('files' may also go with 'dataset' to pin the names it picks)"
            )
        if (self.dataset is None) != (self.split is None):
            raise ValueError("'split' goes with 'dataset' (and only with it)")
        if self.generate is not None and not (self.count and self.count <= 1000):
            raise ValueError("'generate' needs 'count' (1 to 1000)")
        picks = self.generate is not None or self.dataset is not None
        if not picks and (self.count is not None or "first" in self.model_fields_set):
            raise ValueError("'count' and 'first' go with 'generate' or 'dataset'")
        if self.every is not None and self.dataset is None:
            raise ValueError("'every' goes with 'dataset'")
        if self.dataset is not None and not self.splits:
            raise ValueError("'split' names at least one split")
        if self.dataset is not None and self.files is not None and len(self.splits) != 1:
            raise ValueError("'files' picks names from one 'split'")
        return self

    @property
    def splits(self) -> list[str]:
        """The dataset splits, in the order given."""
        return [self.split] if isinstance(self.split, str) else list(self.split or [])

    @property
    def selects(self) -> bool:
        """Whether a dataset set picks a subset by rule (rather than taking whole splits)."""
        given = self.model_fields_set
        return self.dataset is not None and bool({"first", "every", "count"} & given)


class BlendSpec(BaseModel):
    """A blend of several of the suite's style images, scored as a style of its own (see README,
    Blends): ``images`` names style images of the suite's ``style`` set, ``weights`` (positive,
    one per image) say how much each contributes; they are divided by their sum."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$",
        description="the blend's name (default: its images' names joined by '+')",
    )
    images: list[str] = Field(min_length=2, description="names of the suite's style images")
    weights: list[float] = Field(description="one positive weight per image (normalised)")

    @model_validator(mode="after")
    def _weights_fit(self) -> BlendSpec:
        if len(self.weights) != len(self.images):
            raise ValueError(
                f"'weights' needs one weight per image ({len(self.images)}), got {len(self.weights)}"
            )
        if not all(math.isfinite(w) and w > 0 for w in self.weights):
            raise ValueError(f"'weights' must all be positive numbers, got {self.weights}")
        if len(set(self.images)) != len(self.images):
            raise ValueError("'images' names an image twice")
        return self


class StyleSet(ImageSet):
    """The style images, and optionally blends of them (``blends``)."""

    blends: list[BlendSpec] = Field(
        default_factory=list, description="blends of the style images, each scored as a style"
    )


class TrainingSpec(BaseModel):
    """Training split for trained methods: content photos (and optionally extra style images,
    e.g. the style domain for CycleGAN)."""

    model_config = ConfigDict(extra="forbid")

    content: ImageSet
    style: ImageSet | None = None


class ReverseSpec(BaseModel):
    """The style -> photo direction of domain methods that translate both ways (CycleGAN): its
    inputs are images of the style domain, its reference set photos. It has its own images
    because neither of the forward direction's sets fits: the style images may have been
    trained on, and the forward reference set is paintings, not photos."""

    model_config = ConfigDict(extra="forbid")

    content: ImageSet = Field(description="style-domain images translated to photos")
    reference: ImageSet = Field(description="photos: FID/KID and style_loss reference set")


class GuideSpec(BaseModel):
    """Where a suite's semantic maps are and which image each belongs to (see README, Suites)."""

    model_config = ConfigDict(extra="forbid")

    folder: str = Field(description="folder holding the maps, relative to the suite file")
    suffix: str = Field("_sem", description="a map of <stem>.jpg is <stem><suffix>.png")
    files: dict[str, str] = Field(
        default_factory=dict,
        description="content/style image file name -> its map's file name in the folder",
    )


class SuiteSpec(BaseModel):
    """A versioned benchmark suite. Bump ``version`` whenever anything in it changes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: int = Field(ge=0)
    description: str = ""
    image_size: int = Field(ge=16, le=4096)
    seed: int = 0
    weights: str = "pretrained"
    content: ImageSet
    style: StyleSet
    reference: ImageSet | None = Field(
        None, description="reference set for FID/KID (default: the style images)"
    )
    training: TrainingSpec | None = None
    reverse: ReverseSpec | None = Field(
        None,
        description="images of the style -> photo direction, scored for domain methods that "
        "translate both ways (see README, CycleGAN)",
    )
    guides: GuideSpec | None = Field(
        None, description="semantic maps for content and style images (semantic methods)"
    )
    methods: dict[str, dict[str, Any]] = Field(default_factory=dict)
    default_preset: str | None = Field(
        None,
        description="with it, the suite runs every registered method: those it does not list, "
        "and --methods it does not list, with this preset (every method has a 'smoke' one)",
    )
    metrics: list[str] | None = None

    def image_sets(self) -> dict[str, ImageSet]:
        """Every image set of the suite by its key path (``content``, ``training.style``, ...)."""
        sets = {"content": self.content, "style": self.style}
        if self.reference is not None:
            sets["reference"] = self.reference
        if self.training is not None:
            sets["training.content"] = self.training.content
            if self.training.style is not None:
                sets["training.style"] = self.training.style
        if self.reverse is not None:
            sets["reverse.content"] = self.reverse.content
            sets["reverse.reference"] = self.reverse.reference
        return sets
