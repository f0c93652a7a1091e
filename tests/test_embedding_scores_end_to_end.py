"""The embedding scores through the real CLI, Ray and MLflow at the published network sizes
(ViT-L/14 for CLIP and CSD, ViT-B/14 for DINOv2) with seeded random weights, as a user with the
``embeddings`` extra who names them in ``--set metrics=...`` runs them."""

from __future__ import annotations

import json

import numpy as np

from tests.test_end_to_end import bench

EMBEDDINGS = ["clip_style", "csd_style", "dino_content"]


def test_a_run_records_every_embedding_score_with_its_network(tmp_path):
    out = tmp_path / "out"
    result = bench(
        "run", "--methods", "gatys", "--weights", "random", "--out", str(out),
        "--workers", "1", "--set", "gatys.steps=2", "--set", "content.count=1",
        "--set", f"metrics=[{','.join(EMBEDDINGS)},csd_style_csls]",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = out.glob("smoke-*")
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "complete"
    assert not any(record["metrics"][name]["default"] for name in EMBEDDINGS)
    cells = record["cells"]
    assert cells and all(c["status"] == "ok" for c in cells)
    for cell in cells:
        assert all(-1 <= cell["scores"][name] <= 1 for name in EMBEDDINGS), cell["scores"]
    networks = {w["network"]: w for w in record["weights"]["networks"]}
    for name, model_id in [
        ("clip_vit_l14", "openai/clip-vit-large-patch14"),
        ("csd_vit_l", "tomg-group-umd/CSD-ViT-L"),
        ("dinov2_vitb14", "facebook/dinov2-base"),
    ]:
        assert networks[name]["random"] and model_id in networks[name]["source"]
    # CSLS over each method's pairs of output and own style image (blends are not pairs).
    paired = [c for c in cells if c["method"] == "gatys" and c["style"].startswith("s-")]
    csls = record["methods"]["gatys"]["set_scores"]["csd_style_csls"]
    assert csls["value"] is not None and csls["n"] == len(paired)
    assert csls["details"]["neighbours"]["styles"] == csls["details"]["n_styles"]
    for cell in paired:
        pair = np.load(run_dir / "features" / f"{cell['id']}.csd_vit_l.npy")
        assert pair.shape == (2, 768)
        np.testing.assert_allclose(np.linalg.norm(pair, axis=1), 1, rtol=1e-6)
        np.testing.assert_allclose(pair[0] @ pair[1], cell["scores"]["csd_style"], atol=1e-5)
    report = (run_dir / "report.html").read_text()
    assert 'id="protocol"' in report and "csd_<wbr>style_<wbr>csls" in report
