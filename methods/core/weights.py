"""Where backbone weights come from, and a fingerprint that says exactly which ones were used.

Every network a benchmark relies on (VGG for the losses, AlexNet/VGG-16 for LPIPS, Inception
for FID/KID) gets its weights through `resolve_state_dict`, from one of three sources:

- ``pretrained``: the published weights (`PRETRAINED_URLS`), downloaded once into torch's hub
  cache (``$TORCH_HOME/hub/checkpoints``) and verified against the hash in their file name;
- ``random``: a seeded initialisation, for running the pipeline where no weights can be had;
- a local path: a checkpoint file, or a folder holding files named as in the hub cache.

Whatever the source, `state_dict_sha256` names the result, so records can say which weights
produced a number and never pass random weights off as pretrained.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import torch

#: Published checkpoints of the backbones stylebench uses, under their publishers' file names
#: (the hex part is the start of the file's SHA-256, checked on download): torchvision's ImageNet
#: weights, torch-fidelity's conversion of the TF Inception (2015-12-05) that FID is defined on,
#: and AdaIN's normalised VGG-19 as naoto0804/pytorch-AdaIN releases it (its name carries no
#: hash, so that file is not verified on download; records still carry its weights' SHA-256).
PRETRAINED_URLS: dict[str, str] = {
    "alexnet": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "inception_v3_fid": (
        "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
        "weights-inception-2015-12-05-6726825d.pth"
    ),
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "inception_v3": "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    "vgg_normalised": (
        "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/vgg_normalised.pth"
    ),
}


class WeightsUnavailable(RuntimeError):
    """Weights that were asked for cannot be had; the message says what to do instead."""


@dataclass(frozen=True)
class WeightsSource:
    """How to obtain weights: ``pretrained``, ``random`` (with its seed) or a local ``path``."""

    kind: str
    seed: int = 0
    path: Path | None = None

    @classmethod
    def parse(cls, text: str, seed: int = 0) -> WeightsSource:
        """Read the CLI / suite form: ``pretrained``, ``random`` or a file or folder path."""
        if text in ("pretrained", "random"):
            return cls(kind=text, seed=seed)
        path = Path(text).expanduser()
        problem = None if path.is_dir() else file_problem(path)
        if problem:
            raise WeightsUnavailable(
                f"weights path {text!r} {problem}: pass 'pretrained', 'random', "
                "or a checkpoint file / folder of checkpoints"
            )
        return cls(kind="path", seed=seed, path=path.resolve())

    @property
    def is_random(self) -> bool:
        return self.kind == "random"

    def describe(self) -> str:
        if self.kind == "random":
            return f"random(seed={self.seed})"
        if self.kind == "path":
            return f"file:{self.path}"
        return "pretrained"


@dataclass(frozen=True)
class WeightsIdentity:
    """The recorded identity of one network's weights."""

    network: str
    source: str
    sha256: str

    @property
    def is_random(self) -> bool:
        return self.source.startswith("random")

    def as_dict(self) -> dict[str, str | bool]:
        return {
            "network": self.network,
            "source": self.source,
            "sha256": self.sha256,
            "random": self.is_random,
        }


def state_dict_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Hash names, dtypes, shapes and values, so equal weights hash equally whatever the file."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().to("cpu").contiguous()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(
            tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        )
    return digest.hexdigest()


def hub_cache_dir() -> Path:
    """The folder torch (and torchvision) cache downloaded checkpoints in."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_name(network: str, url: str) -> str:
    """The file name ``network``'s published checkpoint has in the hub cache (and in a weights
    folder): the publisher's, except for safetensors files, which Hugging Face repositories all
    name alike (``model.safetensors``) and so are cached as ``<network>.safetensors``."""
    file_name = url.rsplit("/", 1)[-1]
    return f"{network}.safetensors" if file_name.endswith(".safetensors") else file_name


def _download_pretrained(network: str, url: str) -> dict[str, torch.Tensor]:
    cached = hub_cache_dir() / cached_name(network, url)
    try:
        if cached.suffix != ".safetensors":
            return torch.hub.load_state_dict_from_url(
                url, map_location="cpu", check_hash=True, weights_only=True, progress=True
            )
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            # Downloads to a temporary file in the same folder and renames it when complete.
            torch.hub.download_url_to_file(url, str(cached), progress=True)
    except (URLError, OSError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsUnavailable(
            f"pretrained {network} weights are not cached at {cached} and could not be "
            f"downloaded ({reason}); run once with network access, copy the file there, "
            "or pass --weights random (seeded, clearly labelled) or --weights PATH"
        ) from exc
    return read_state_dict(cached)


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a checkpoint file (None: it may be one), told from its metadata
    alone: a named pipe is never opened, since reading one waits for a writer for ever."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(info.st_mode):
        return "is a folder, not a checkpoint file"
    if stat.S_ISFIFO(info.st_mode):
        return "is a named pipe, not a checkpoint file"
    if not stat.S_ISREG(info.st_mode):
        return "is a device or socket, not a checkpoint file"
    if info.st_size == 0:
        return "is empty (0 bytes); the download or copy was interrupted"
    return None


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict of tensors from ``path``, read weights-only: loading never runs code."""
    problem = file_problem(path)
    if problem:
        raise WeightsUnavailable(f"weights file {path} {problem}")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsUnavailable(
            f"cannot read weights file {path}: {exc}; it must be a state dict saved with torch.save"
        ) from exc
    if not isinstance(loaded, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise WeightsUnavailable(f"weights file {path} does not hold a state dict of tensors")
    return dict(loaded)


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors (the format holds nothing but tensors: loading runs no code)."""
    try:
        from safetensors.torch import load_file
    except ImportError as exc:
        raise WeightsUnavailable(
            f"weights file {path} is a safetensors file and the safetensors package is not "
            "installed; install stylebench's embeddings extra: pip install 'stylebench[embeddings]'"
        ) from exc
    try:
        return load_file(path, device="cpu")
    except Exception as exc:
        raise WeightsUnavailable(f"cannot read weights file {path}: {exc}") from exc


def _published(network: str, url: str | None) -> str:
    """The URL of ``network``'s published checkpoint (its file name is the hub cache's)."""
    url = url or PRETRAINED_URLS.get(network)
    if url is None:
        raise WeightsUnavailable(
            f"no published checkpoint is known for {network}; pass --weights random or "
            "--weights PATH (a checkpoint file)"
        )
    return url


def _from_path(
    network: str, path: Path, matches: Callable[[Mapping], bool], url: str | None
) -> dict:
    if path.is_dir():
        file_name = cached_name(network, _published(network, url))
        candidate = path / file_name
        if not candidate.exists():
            raise WeightsUnavailable(
                f"weights folder {path} has no {file_name} for {network}; put torchvision's "
                "checkpoint there under that name"
            )
        state = read_state_dict(candidate)
    else:
        state = read_state_dict(path)
    if not matches(state):
        raise WeightsUnavailable(
            f"weights file {path} does not fit {network}; pass a folder holding one checkpoint "
            "per network (named as in torch's hub cache)"
        )
    return state


def resolve_state_dict(
    network: str,
    source: WeightsSource,
    random_init: Callable[[], Mapping[str, torch.Tensor]],
    matches: Callable[[Mapping], bool],
    url: str | None = None,
) -> tuple[dict[str, torch.Tensor], str]:
    """Return ``(state_dict, source description)`` for ``network`` from ``source``.

    ``random_init`` builds the seeded random weights (called under a forked RNG so it leaves the
    caller's random state alone); ``matches`` tells whether a loaded file fits the network.
    ``url``: the published checkpoint (default `PRETRAINED_URLS`; a plugin's encoder passes its
    own), verified on download when its file name holds the start of its SHA-256.
    """
    if source.kind == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(source.seed)
            return dict(random_init()), source.describe()
    if source.kind == "path":
        assert source.path is not None
        return _from_path(network, source.path, matches, url), source.describe()
    url = _published(network, url)
    state = _download_pretrained(network, url)
    if not matches(state):
        raise WeightsUnavailable(f"the cached {network} checkpoint does not fit the network")
    return state, f"pretrained:{url.rsplit('/', 1)[-1]}"
