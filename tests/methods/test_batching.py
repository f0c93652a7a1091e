"""Batched optimisation gives every pair the image it gets alone; coarse-to-fine phases.

The batch check runs in float64: there a batch is bit-for-bit its pairs one by one, which shows
no state is shared between pairs. In float32 a batched convolution may sum in another order
(~1e-7 relative), and optimisation amplifies rounding like any change of summation order
(benchmarks/gatys.py prints the size of the difference).
"""

import copy

import pytest
import torch

from methods.base import MethodContext, resolve_config
from methods.core.pyramid import coarse_to_fine, phase_sizes
from methods.gatys import Gatys
from methods.improved_gatys import ImprovedGatys
from methods.semantic import Semantic

CASES = [
    (Gatys, {"steps": 6}),
    (Gatys, {"steps": 5, "optimizer": "adam", "lr": 0.05}),
    (Gatys, {"steps": 3, "phases": 2}),
    (ImprovedGatys, {"steps": 4}),
    (Semantic, {"steps": 3, "phases": 1}),
]


@pytest.fixture(scope="module")
def double_context(vgg19):
    encoder = copy.deepcopy(vgg19).to(torch.float64)
    return MethodContext(device=torch.device("cpu"), seed=0, encoder=lambda arch: encoder)


@pytest.mark.parametrize("cls,settings", CASES, ids=lambda v: getattr(v, "name", str(v)))
def test_a_batch_matches_its_pairs_one_by_one(double_context, cls, settings):
    generator = torch.Generator().manual_seed(4)
    content = torch.rand(2, 3, 32, 32, generator=generator, dtype=torch.float64)
    style = torch.rand(2, 3, 32, 32, generator=generator, dtype=torch.float64)
    method = cls(resolve_config(cls, settings), double_context)
    batch = method.stylize(content, style, seeds=[11, 12])
    assert batch.curves["total"][0] != batch.curves["total"][1], "the pairs differ"
    for i, seed in enumerate([11, 12]):
        alone = method.stylize(content[i : i + 1], style[i : i + 1], seeds=[seed])
        torch.testing.assert_close(batch.images[i : i + 1], alone.images, atol=1e-12, rtol=0)
        assert batch.curves["total"][i] == pytest.approx(alone.curves["total"][0], rel=1e-12)


def test_phase_sizes_double_up_to_the_full_size():
    assert phase_sizes((64, 48), 3) == [(16, 12), (32, 24), (64, 48)]
    assert phase_sizes((64, 64), 1) == [(64, 64)]
    with pytest.raises(ValueError, match="coarsest image 8x8 px, smaller than the 16 px"):
        phase_sizes((32, 32), 3, min_size=16)


def test_each_phase_starts_from_the_previous_result_upsampled():
    seen = []

    def run_phase(start):
        from methods.core.optimize import OptimizationResult

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
