"""Batched optimisation gives every pair the image it gets alone, bit for bit; coarse-to-fine.

In float32, on the default backend: a batch must not change one bit of any pair's result,
because an optimisation amplifies any rounding difference into visibly different images.
"""

import pytest
import torch

from stylebench.methods.base import resolve_config
from stylebench.methods.core.pyramid import coarse_to_fine, phase_sizes
from stylebench.methods.gatys import Gatys
from stylebench.methods.improved_gatys import ImprovedGatys
from stylebench.methods.semantic import Semantic

CASES = [
    (Gatys, {"steps": 6}),
    (Gatys, {"steps": 5, "optimizer": "adam", "lr": 0.05}),
    (Gatys, {"steps": 3, "phases": 2}),
    (ImprovedGatys, {"steps": 4}),
    (Semantic, {"steps": 3, "phases": 1}),
]
SEEDS = [11, 12, 13]


@pytest.mark.parametrize("cls,settings", CASES, ids=lambda v: getattr(v, "name", str(v)))
def test_a_batch_gives_each_pair_the_bits_it_gets_alone(context, cls, settings):
    generator = torch.Generator().manual_seed(4)
    content = torch.rand(3, 3, 32, 32, generator=generator)
    style = torch.rand(3, 3, 32, 32, generator=generator)
    method = cls(resolve_config(cls, settings), context)
    batch = method.stylize(content, style, seeds=SEEDS)
    assert batch.curves["total"][0] != batch.curves["total"][1], "the pairs differ"
    for i, seed in enumerate(SEEDS):
        alone = method.stylize(content[i : i + 1], style[i : i + 1], seeds=[seed])
        assert torch.equal(batch.images[i : i + 1], alone.images), f"pair {i} changed in a batch"
        assert batch.curves["total"][i] == alone.curves["total"][0]


def test_phase_sizes_double_up_to_the_full_size():
    assert phase_sizes((64, 48), 3) == [(16, 12), (32, 24), (64, 48)]
    assert phase_sizes((64, 64), 1) == [(64, 64)]
    with pytest.raises(ValueError, match="coarsest image 8x8 px, smaller than the 16 px"):
        phase_sizes((32, 32), 3, min_size=16)


def test_each_phase_starts_from_the_previous_result_upsampled():
    seen = []

    def run_phase(start):
        from stylebench.methods.core.optimize import OptimizationResult

        seen.append(start.clone())
        return OptimizationResult(images=start + 0.1, curves={"total": [[float(len(seen))]]})

    result = coarse_to_fine((8, 8), 2, lambda size: torch.zeros(1, 3, *size), run_phase)
    assert [tuple(s.shape[-2:]) for s in seen] == [(4, 4), (8, 8)]
    torch.testing.assert_close(seen[1], torch.full((1, 3, 8, 8), 0.1))
    torch.testing.assert_close(result.images, torch.full((1, 3, 8, 8), 0.2))
    assert result.curves == {"total": [[1.0, 2.0]]}


def test_gatys_coarse_to_fine_runs_every_phase(context):
    method = Gatys(resolve_config(Gatys, {"steps": 3, "phases": 2}), context)
    result = method.stylize(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), seeds=[0])
    assert result.images.shape == (1, 3, 32, 32)
    assert len(result.curves["total"][0]) == 6
