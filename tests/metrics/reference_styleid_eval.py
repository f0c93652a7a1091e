"""StyleID's evaluation (github:jiwoogit/StyleID ``evaluation/eval_artfid.py``, ``inception.py``,
``util/copy_inputs.py``) rebuilt for tests from what those files do, on files on disk: the
independent computation stylebench's ``*_styleid`` metrics must equal. art-fid's own
(github:matthias-wright/art-fid ``art_fid/art_fid.py``), which ``*_reference`` must equal, is the
same code without the resize (``ToTensor()`` alone): ``short_side=None``. Not stylebench code."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import linalg
from sklearn.linear_model import LinearRegression
from torch import nn
from torchvision import models, transforms
from torchvision.models.inception import InceptionAux


class ArtInception3(models.Inception3):
    """``inception.Inception3``: torchvision's Inception-v3 with heads ``fc1``, ``fc2``,
    ``AuxLogits1``, ``AuxLogits2``; ``forward(x, return_features=True)`` gives the pooled
    features of the untransformed input."""

    def __init__(self) -> None:
        super().__init__(aux_logits=True, transform_input=False, init_weights=False)
        del self.AuxLogits, self.fc
        self.AuxLogits1 = InceptionAux(768, 1000)
        self.AuxLogits2 = InceptionAux(768, 1000)
        self.fc1 = nn.Linear(2048, 1000)
        self.fc2 = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert return_features
        for name in (
            "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
            "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
            "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c",
            "avgpool", "dropout",
        ):  # fmt: skip
            x = getattr(self, name)(x)
        return torch.flatten(x, 1)


def load_model(path: Path) -> ArtInception3:
    """As ``compute_fid`` loads it: ``load_state_dict(ckpt, strict=False)``."""
    model = ArtInception3()
    model.load_state_dict(torch.load(path, map_location="cpu"), strict=False)
    return model.eval()


def copy_inputs(cnt: Path, sty: Path) -> tuple[Path, Path]:
    """``util/copy_inputs.py``: one content and one style file per (content, style) pair."""
    cnt_eval, sty_eval = Path(f"{cnt}_eval"), Path(f"{sty}_eval")
    for folder in (cnt_eval, sty_eval):
        folder.mkdir()
    for a in sorted(cnt.glob("*.png")):
        for b in sorted(sty.glob("*.png")):
            shutil.copy(a, cnt_eval / f"{a.stem}_stylized_{b.stem}.png")
            shutil.copy(b, sty_eval / f"{a.stem}_stylized_{b.stem}.png")
    return cnt_eval, sty_eval


def _read(path: Path, grey: bool = False, short_side: int | None = 512) -> torch.Tensor:
    steps = [transforms.Resize(short_side)] if short_side else []
    steps += [transforms.Grayscale()] if grey else []
    image = Image.open(path).convert("RGB")
    return transforms.Compose([*steps, transforms.ToTensor()])(image).unsqueeze(0)


@torch.no_grad()
def activations(folder: Path, model: ArtInception3, short_side: int | None = 512) -> np.ndarray:
    """``get_activations`` one image at a time (StyleID's default batch size; art-fid's 50
    batches images of one size, which gives the same features)."""
    files = sorted(folder.glob("*.png"))
    return np.stack(
        [model(_read(f, short_side=short_side), return_features=True)[0].numpy() for f in files]
    )


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """``compute_frechet_distance``: scipy's matrix square root, eps retry, real part."""
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_infinity(stylized: np.ndarray, style: np.ndarray, num_points: int = 8) -> float:
    """``compute_fid_infinity`` as StyleID calls it (``num_workers`` = 8 lands in
    ``num_points``): shuffled pair subsets at sizes from 5,000 to N, line fit in 1/N. A subset
    that holds the same pairs as an earlier one has the same statistics (up to summation order),
    so its FID_N is taken from that one: scipy's square root of a 2048 x 2048 product takes
    a minute on 2 cores."""
    idcs = np.arange(len(stylized))
    sizes = np.linspace(start=5000, stop=len(stylized), num=num_points).astype("int32")
    fids, seen = [], {}
    for size in sizes:
        np.random.shuffle(idcs)
        subset = frozenset(idcs[:size].tolist())
        if subset not in seen:
            a, b = style[idcs[:size]], stylized[idcs[:size]]
            seen[subset] = frechet_distance(
                a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
            )
        fids.append(seen[subset])
    fit = LinearRegression().fit(1 / sizes.reshape(-1, 1), np.array(fids).reshape(-1, 1))
    return float(fit.predict(np.array([[0]]))[0, 0])


@torch.no_grad()
def content_distance(
    tar: Path, cnt_eval: Path, lpips_model: nn.Module, grey: bool, short_side: int | None = 512
) -> float:
    """``compute_content_distance`` with ``image_metrics.LPIPS`` (inputs mapped to [-1, 1])."""
    pairs = zip(sorted(tar.glob("*.png")), sorted(cnt_eval.glob("*.png")), strict=True)
    values = [
        lpips_model(2 * _read(a, grey, short_side) - 1, 2 * _read(b, grey, short_side) - 1)
        .sum()
        .item()
        for a, b in pairs
    ]
    return sum(values) / len(values)
