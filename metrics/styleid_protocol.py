"""Metric variants of the reference evaluations papers copy, computed as their code does: the
StyleID protocol's (Chung et al., CVPR 2024) and art-fid's own ArtFID (Wright & Ommer 2022).

Most 2024-2026 style-transfer papers copy their numbers' protocol from StyleID's
``evaluation/eval_artfid.py`` (github:jiwoogit/StyleID): outputs written as 8-bit PNG and read
back with PIL, ``Resize(512)`` (shorter side to 512, bilinear with antialiasing), ``ToTensor()``;
content and style inputs duplicated to one file per output by ``util/copy_inputs.py``, so the
style "reference set" holds every style image once per content image. These variants carry that
in their names; stylebench's own ``fid``, ``lpips``, ``artfid`` are left as they are.

- ``lpips_styleid``: LPIPS (AlexNet, v0.1) of the 8-bit output and its content image, both in
  that view (``image_metrics.LPIPS``: inputs mapped to [-1, 1]).
- ``lpips_gray_styleid``: the same after ``Grayscale()`` (Pillow's L mode) of the resized
  images; one grey channel, which the LPIPS package's input scaling spreads over three.
- ``fid_styleid``: Frechet distance between the art-Inception features (`metrics.art_inception`)
  of the outputs and of each output's own style image (the duplicated set), with ``np.cov``
  statistics. StyleID calls art-fid's FID-infinity with its ``num_workers`` (8) landing in
  ``num_points``: FID_N at 8 sizes evenly from 5,000 to N, each on a shuffled subset of that
  size of output/style pairs, fitted in 1/N and read at 0. Below 5,000 outputs every size is at
  least N, every subset is the whole set, and the fit returns plain FID of the whole set: so does
  this metric (800 outputs in the protocol). Above 5,000 the subsets are real; the reference
  shuffles them unseeded, here they are drawn from the run's seed and recorded.
- ``artfid_styleid``: (1 + mean ``lpips_styleid``) x (1 + ``fid_styleid``), StyleID's ArtFID.
- ``lpips_reference``, ``fid_reference``, ``artfid_reference``: art-fid's own ``compute_art_fid``
  (github:matthias-wright/art-fid, ``python -m art_fid`` with its defaults: mode
  ``art_fid_inf``, LPIPS content distance): the same, but every image read at its own size
  (``ToTensor()`` alone). Its CLI passes ``num_workers`` (8) as ``num_points`` too, and its
  FID-infinity asserts one style image per output, so it pairs them the same way. Its
  ``art_fid`` mode (plain FID of the same two folders) equals ``art_fid_inf`` below 5,000
  outputs and is not a separate metric.

The equality of each with the reference code's computation on identical files and weights is
checked in ``tests/metrics/test_styleid_protocol.py`` (art-fid's code differs from StyleID's
copy only in the resize, so one rebuild serves both).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from stylebench.methods.core.inception_trunk import MIN_SIZE
from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics import art_inception
from stylebench.metrics.art_inception import protocol_view
from stylebench.metrics.base import MetricInfo, to_pixels
from stylebench.metrics.distances import FID_INF_START, fid
from stylebench.metrics.perceptual_distance import LPIPS
from stylebench.metrics.set_intervals import (
    Resample,
    artfid_draws,
    fid_draws,
    interval,
    resamples,
)
from stylebench.metrics.sets import SetData, SetMetric, SetScore, artfid_value, mean_image_score

#: FID_N sizes of StyleID's FID-infinity call (its ``num_workers`` default, passed positionally).
FID_INF_POINTS = 8
#: StyleID's ``Resize(512)``: the shorter side to 512 px.
SHORT_SIDE = art_inception.VIEWS[art_inception.NETWORK]
STYLEID_PREPROCESSING = (
    "8-bit image (the PNG as stored), torchvision Resize(512) of the PIL image (shorter side, "
    "bilinear, antialiased), ToTensor(); inputs duplicated to one per output (copy_inputs.py)"
)
REFERENCE_PREPROCESSING = (
    "8-bit image (the PNG as stored) at its own size, ToTensor(); style images one per output"
)


def fid_infinity_as_called(
    outputs: np.ndarray, styles: np.ndarray, seed: int, start: int = FID_INF_START
) -> tuple[float, dict]:
    """FID as art-fid's FID-infinity is called by its own CLI (``compute_art_fid``, mode
    ``art_fid_inf``) and by StyleID's copy of it, for paired ``outputs`` and ``styles``: both
    pass ``num_workers`` (8) where ``num_points`` goes, so FID_N at 8 sizes from ``start``."""
    n = len(outputs)
    sizes = np.linspace(start, n, FID_INF_POINTS).astype(np.int32)
    if (sizes >= n).all():
        return fid(outputs, styles), {
            "sizes": sizes.tolist(),
            "fit": f"every size is at least N = {n}, so every FID_N is the whole set's and the "
            "extrapolation is plain FID",
        }
    rng = np.random.default_rng(seed)
    fids = []
    for size in sizes:
        pairs = rng.permutation(n)[:size]
        fids.append(fid(outputs[pairs], styles[pairs]))
    slope, value = np.polyfit(1 / sizes, fids, 1)
    return float(value), {
        "sizes": sizes.tolist(),
        "fids": fids,
        "slope": float(slope),
        "seed": seed,
        "fit": "least squares of FID_N against 1/N over seeded subsets of output/style pairs",
    }


class PairedLPIPS(LPIPS):
    """LPIPS (AlexNet, v0.1) of the 8-bit output and its content image in a reference
    evaluation's view (`protocol_view`): a resize of the shorter side, or none, and grey or not."""

    short_side: ClassVar[int | None] = SHORT_SIDE
    grey: ClassVar[bool] = False

    @torch.no_grad()
    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor | None
    ) -> torch.Tensor:
        values = []
        for out, cnt in zip(to_pixels(outputs), to_pixels(content), strict=True):
            pair = [protocol_view(i, self.short_side, self.grey)[None] for i in (out, cnt)]
            x, y = (view.to(self.context.device) * 2 - 1 for view in pair)
            values.append(self.model(x, y).flatten())
        return torch.cat(values)


class LPIPSStyleID(PairedLPIPS):
    """LPIPS in StyleID's view of the files: the 8-bit output at ``Resize(512)``."""

    info = MetricInfo(
        name="lpips_styleid",
        higher_is_better=False,
        per="image",
        unit="",
        description="LPIPS v0.1 (AlexNet) of output vs content as StyleID's eval_artfid.py "
        "reads them: 8-bit, Resize(512), ToTensor",
        needs=("content",),
        default=False,
    )


class LPIPSGrayStyleID(PairedLPIPS):
    """StyleID's ``LPIPS_gray``: its LPIPS after ``Grayscale()`` of the resized images."""

    info = MetricInfo(
        name="lpips_gray_styleid",
        higher_is_better=False,
        per="image",
        unit="",
        description="LPIPS v0.1 (AlexNet) of greyscale output vs content as StyleID's "
        "eval_artfid.py reads them: 8-bit, Resize(512), Grayscale (Pillow L), ToTensor",
        needs=("content",),
        default=False,
    )
    grey = True


class LPIPSReference(PairedLPIPS):
    """LPIPS as art-fid's ``compute_content_distance`` reads the files: 8-bit, own size."""

    info = MetricInfo(
        name="lpips_reference",
        higher_is_better=False,
        per="image",
        unit="",
        description="LPIPS v0.1 (AlexNet) of output vs content as art-fid's compute_art_fid "
        "reads them: 8-bit, at their own size, ToTensor",
        needs=("content",),
        default=False,
    )
    short_side = None


class PairedFID(SetMetric):
    """FID of the outputs against each output's own style image, on art-Inception features in
    one view, as art-fid's FID-infinity call computes it (`fid_infinity_as_called`)."""

    variant: ClassVar[str]
    preprocessing: ClassVar[str]

    @classmethod
    def preflight(cls, weights: WeightsSource) -> None:
        art_inception.resolve_weights(weights)

    def pairs(self, data: SetData) -> np.ndarray:
        return data.pairs[self.extractor]

    def score(self, data: SetData) -> SetScore:
        if len(data.pairs.get(self.extractor, ())) < 2:
            return SetScore(
                None,
                data.n,
                0,
                error=f"{self.info.name} compares each output with its own style image and "
                "needs at least 2 such pairs (a domain method's outputs have no style image)",
            )
        if np.isnan(self.pairs(data)).any():
            return SetScore(
                None,
                data.n,
                0,
                error=f"{self.info.name}: the art-Inception takes images of at least {MIN_SIZE} "
                f"px, and this suite's are smaller as {self.variant} reads them "
                f"({self.preprocessing})",
            )
        return self.compute(data)

    def fid_part(self, data: SetData) -> SetScore:
        value, details = data.shared(f"fid:{self.extractor}", lambda: self._fid(data))
        draws = data.shared(f"fid_draws:{self.extractor}", lambda: self._fid_draws(data))
        n = len(self.pairs(data))
        return SetScore(
            value,
            n,
            n,
            details={"variant": self.variant, "preprocessing": self.preprocessing, **details},
            interval=interval(value, draws, data.seed),
        )

    def compute(self, data: SetData) -> SetScore:
        return self.fid_part(data)

    def _fid(self, data: SetData) -> tuple[float, dict]:
        pairs = self.pairs(data)
        return fid_infinity_as_called(pairs[:, 0], pairs[:, 1], data.seed)

    def pair_draws(self, data: SetData) -> list[Resample]:
        """Seeded resamples of output/style pairs: a pair is drawn whole, as the protocol pairs."""
        n = len(self.pairs(data))
        return [Resample(r.outputs, r.outputs) for r in resamples(n, n, data.seed)]

    def _fid_draws(self, data: SetData) -> list[float]:
        pairs = self.pairs(data)
        return fid_draws(pairs[:, 0], pairs[:, 1], self.pair_draws(data))


class PairedArtFID(PairedFID):
    """(1 + mean of a per-image LPIPS variant) x (1 + the FID variant of the same view)."""

    lpips: ClassVar[str]

    def compute(self, data: SetData) -> SetScore:
        lpips = mean_image_score(data, self.lpips)
        if lpips is None:
            return SetScore(None, data.n, 0, error=f"no per-image {self.lpips} scores to average")
        part = self.fid_part(data)
        fid_value = part.value
        part.value = artfid_value(lpips[0], fid_value)
        part.details |= {"fid": fid_value, "lpips_mean": lpips[0], "lpips_n": lpips[1]}
        scores = np.array(data.image_scores.get(self.lpips, ()), dtype=float)
        if len(scores) != len(self.pairs(data)) or not np.isfinite(scores).all():
            part.interval = None
            return part
        fids = data.shared(f"fid_draws:{self.extractor}", lambda: self._fid_draws(data))
        draws = artfid_draws(fids, scores, self.pair_draws(data), artfid_value)
        part.interval = interval(part.value, draws, data.seed)
        return part


class FIDStyleID(PairedFID):
    """StyleID's FID: art-Inception at ``Resize(512)``, each output against its style image."""

    info = MetricInfo(
        name="fid_styleid",
        higher_is_better=False,
        per="set",
        unit="",
        description="FID as StyleID's eval_artfid.py computes it: art-fine-tuned Inception, "
        "Resize(512), outputs vs each output's style image (duplicated as copy_inputs.py does)",
        needs=("style",),
        default=False,
    )
    extractor = art_inception.NETWORK
    variant = "styleid"
    preprocessing = STYLEID_PREPROCESSING


class ArtFIDStyleID(PairedArtFID):
    """StyleID's ArtFID: (1 + mean ``lpips_styleid``) x (1 + ``fid_styleid``)."""

    info = MetricInfo(
        name="artfid_styleid",
        higher_is_better=False,
        per="set",
        unit="",
        description="ArtFID as StyleID's eval_artfid.py computes it: (1 + mean lpips_styleid) "
        "x (1 + fid_styleid)",
        needs=("content", "style"),
        requires=("lpips_styleid",),
        default=False,
    )
    extractor = art_inception.NETWORK
    variant = "styleid"
    preprocessing = STYLEID_PREPROCESSING
    lpips = "lpips_styleid"


class FIDReference(PairedFID):
    """art-fid's FID: art-Inception on the images at their own size, output vs its style."""

    info = MetricInfo(
        name="fid_reference",
        higher_is_better=False,
        per="set",
        unit="",
        description="FID as art-fid's compute_art_fid computes it (mode art_fid_inf, its "
        "default): art-fine-tuned Inception at the images' own size, outputs vs each output's "
        "style image",
        needs=("style",),
        default=False,
    )
    extractor = f"{art_inception.NETWORK}_native"
    variant = "art-fid"
    preprocessing = REFERENCE_PREPROCESSING


class ArtFIDReference(PairedArtFID):
    """art-fid's ArtFID: (1 + mean ``lpips_reference``) x (1 + ``fid_reference``)."""

    info = MetricInfo(
        name="artfid_reference",
        higher_is_better=False,
        per="set",
        unit="",
        description="ArtFID as art-fid's compute_art_fid computes it (mode art_fid_inf): "
        "(1 + mean lpips_reference) x (1 + fid_reference)",
        needs=("content", "style"),
        requires=("lpips_reference",),
        default=False,
    )
    extractor = f"{art_inception.NETWORK}_native"
    variant = "art-fid"
    preprocessing = REFERENCE_PREPROCESSING
    lpips = "lpips_reference"
