"""GLO: one code per training image read by index, projected onto the sphere; samples from the codes' Gaussian;
codes fitted to new images."""

from __future__ import annotations

import torch

from gankit.losses import laplacian_l1
from tests.variants.steps import run_step, tiny_state

SMALL = ["model.g.width=8", "model.z_dim=5", "options.encode_steps=30"]


def test_codes_are_read_by_index_and_only_the_batch_rows_move_and_every_row_stays_on_the_sphere():
    state = tiny_state("glo-mnist", SMALL)
    v = state.variant
    table = v.players["codes"].weight
    assert table.shape == (4500, 5) and torch.allclose(table.norm(dim=1), torch.ones(4500))
    assert set(state.streams) == {"train"}
    probe = state.streams["train"].next(8)
    assert "index" in probe and torch.equal(probe["x"], state.data.columns(probe["index"])["x"].float() / 127.5 - 1)
    before = table.detach().clone()
    losses, changed = run_step(state, "glo")
    assert changed == {"g", "codes"} and set(losses) == {"lap1"}
    moved = (table.detach() != before).any(dim=1)
    assert 0 < int(moved.sum()) <= 8, "SGD on the codes moves only the batch's rows"
    assert torch.allclose(table.detach().norm(dim=1), torch.ones(4500), atol=1e-6)


def test_samples_come_from_the_gaussian_fitted_to_the_codes_and_encode_fits_a_code():
    state = tiny_state("glo-mnist", SMALL)
    v = state.variant
    with torch.no_grad():  # every code the same unit vector: the fitted Gaussian is (nearly) a point, its samples G(that code)
        code = torch.nn.functional.normalize(torch.arange(1.0, 6.0), dim=0)
        v.players["codes"].weight.copy_(code.expand(4500, -1))
        v.players["g"].eval()
        z = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(v.decode(v.players, {"z": z}), v.players["g"](code.expand(3, -1)), atol=1e-3, rtol=0)
        target_code = torch.nn.functional.normalize(torch.tensor([[1.0, -2.0, 0.5, 0.0, 1.0]]), dim=1)
        x = v.players["g"](target_code)
        start = laplacian_l1(v.players["g"](code[None]), x)
    fitted = v.encode(v.players, x)
    assert torch.allclose(fitted.norm(dim=1), torch.ones(1))
    with torch.no_grad():
        assert laplacian_l1(v.players["g"](fitted), x) < start
