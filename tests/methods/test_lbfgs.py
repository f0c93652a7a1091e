"""Per-image L-BFGS: one image behaves like torch.optim.LBFGS (also with the PyTorch tutorial's
clamping closure); a batch like its images alone."""

import torch

from stylebench.methods.core.lbfgs import BatchLBFGS
from stylebench.methods.core.optimize import optimize_images


def bumpy(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """A smooth non-convex loss per image: sum(scale * sin(3x) + (x - 0.5)^2)."""
    return (scale.view(-1, 1, 1, 1) * torch.sin(3 * x) + (x - 0.5) ** 2).flatten(1).sum(1)


def run_batch(x0: torch.Tensor, scale: torch.Tensor, steps: int, history: int) -> torch.Tensor:
    x = x0.clone().requires_grad_(True)

    def closure():
        x.grad = None
        loss = bumpy(x, scale).sum()
        loss.backward()
        return loss

    BatchLBFGS(x, lr=1.0, history_size=history).run(closure, max_eval=steps)
    return x.detach()


def test_a_single_image_follows_torch_lbfgs_without_line_search():
    x0 = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    scale = torch.tensor([0.4], dtype=torch.float64)
    ours = run_batch(x0, scale, steps=15, history=4)

    x = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [x], lr=1.0, max_iter=15, max_eval=15, history_size=4, tolerance_grad=-1,
        tolerance_change=-1,
    )  # fmt: skip

    def closure():
        opt.zero_grad()
        loss = bumpy(x, scale).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert not torch.equal(ours, x0)
    torch.testing.assert_close(ours, x.detach(), rtol=1e-9, atol=1e-9)


def test_a_batch_gives_each_image_the_result_it_gets_alone():
    generator = torch.Generator().manual_seed(1)
    x0 = torch.rand(3, 3, 4, 4, generator=generator, dtype=torch.float64) * 2
    # Image 1 has a flat loss: its curvature pairs are always skipped (y.s = 0), so its slots
    # are masked while the others fill and evict theirs (history 3 < 12 steps).
    scale = torch.tensor([0.4, 0.0, 0.9], dtype=torch.float64)
    x0[1] = 0.5
    batch = run_batch(x0, scale, steps=12, history=3)
    for i in range(3):
        alone = run_batch(x0[i : i + 1], scale[i : i + 1], steps=12, history=3)
        torch.testing.assert_close(batch[i : i + 1], alone, rtol=1e-10, atol=1e-10)
    assert not torch.equal(batch[0], x0[0]) and not torch.equal(batch[2], x0[2])


def test_optimize_images_curves_end_at_the_returned_images():
    x0 = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    scale = torch.tensor([0.1, 0.2])  # minima inside [0, 1], so the final clamp changes nothing

    def loss_fn(x):
        total = bumpy(x, scale)
        return {"total": total}

    result = optimize_images(x0, loss_fn, steps=6, optimizer="lbfgs")
    assert [len(c) for c in result.curves["total"]] == [6, 6]
    final = bumpy(result.images, scale)
    torch.testing.assert_close(final.tolist(), [c[-1] for c in result.curves["total"]])
    assert all(c[-1] < c[0] for c in result.curves["total"])


def test_clamping_each_evaluation_follows_torch_lbfgs_with_the_tutorials_closure():
    """The PyTorch tutorial clamps the image in its closure; L-BFGS never sees the clamp."""
    x0 = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    scale = torch.tensor([0.4], dtype=torch.float64)

    def loss_fn(x: torch.Tensor, seen: list[torch.Tensor]) -> torch.Tensor:
        seen.append(x.detach().clone())
        return bumpy(x, scale) + ((x - 1.5) ** 2).flatten(1).sum(1)  # minimum above 1

    ours: list[torch.Tensor] = []
    result = optimize_images(
        x0, lambda x: {"total": loss_fn(x, ours)}, steps=15, lbfgs_history=4, clamp_each_eval=True
    )

    x = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [x], lr=1.0, max_iter=15, history_size=4, tolerance_grad=-1, tolerance_change=-1
    )
    theirs: list[torch.Tensor] = []

    def closure():
        x.data.clamp_(0, 1)
        opt.zero_grad()
        loss = loss_fn(x, theirs).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert len(ours) == len(theirs) == 15
    for a, b in zip(ours, theirs, strict=True):
        assert a.min() >= 0 and a.max() <= 1
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
    assert torch.equal(result.images, ours[-1])
    assert any(b.max() == 1 for b in theirs)  # the clamp did bite
