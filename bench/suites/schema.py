"""The typed suite definition: what a YAML suite may say, validated with errors that name the key."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ImageSet(BaseModel):
    """A set of images: listed files, a folder, or procedurally generated (built-in suites)."""

    model_config = ConfigDict(extra="forbid")

    files: list[str] | None = None
    folder: str | None = None
    generate: Literal["scenes", "paintings"] | None = None
    count: int | None = Field(None, ge=1, le=1000)
    first: int = Field(0, ge=0, description="index of the first generated image")

    @model_validator(mode="after")
    def _one_source(self) -> ImageSet:
        given = [k for k in ("files", "folder", "generate") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'files', 'folder' or 'generate'")
        if (self.generate is None) != (self.count is None):
            raise ValueError("'count' goes with 'generate' (and only with it)")
        return self


class TrainingSpec(BaseModel):
    """Training split for trained methods: content photos (and optionally extra style images,
    e.g. the style domain for CycleGAN)."""

    model_config = ConfigDict(extra="forbid")

    content: ImageSet
    style: ImageSet | None = None


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
    style: ImageSet
    reference: ImageSet | None = Field(
        None, description="reference set for FID/KID (default: the style images)"
    )
    training: TrainingSpec | None = None
    guides: GuideSpec | None = Field(
        None, description="semantic maps for content and style images (semantic methods)"
    )
    methods: dict[str, dict[str, Any]] = Field(default_factory=dict)
    metrics: list[str] | None = None
