"""The plugin's own tests: stylebench's contract checks, and the method's one property."""

import torch
from stylebench_reinhard.method import Reinhard, ReinhardConfig, lab_to_rgb, rgb_to_lab

from stylebench.testing import check_method


def test_honours_the_stylebench_method_contract(tmp_path):
    check_method(Reinhard, tmp_path)


def test_lab_round_trips_and_the_output_takes_the_styles_lab_statistics():
    rgb = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-4)
    content = rgb * 0.5
    style = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.6 + 0.2
    out = Reinhard(ReinhardConfig(), context=type("C", (), {"device": "cpu"})).stylize(
        content, style
    )
    got, want = rgb_to_lab(out.images), rgb_to_lab(style)
    assert torch.allclose(got.mean((2, 3)), want.mean((2, 3)), atol=0.5)  # L*a*b* units
    assert torch.allclose(got.std((2, 3)), want.std((2, 3)), atol=0.5)
