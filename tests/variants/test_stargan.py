"""StarGAN: one generator G(x, c) among K domains; D's adversarial and domain-classification heads; the reconstruction
G(G(x, c), c') back to the source domain. The objectives are checked on hand-made players whose outputs have closed forms."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.train.loop import build_state
from gankit.variants import StepContext
from gankit.variants.stargan import with_domain
from tests.conftest import TINY
from tests.variants.steps import run_step, tiny_state

SMALL = ["model.g.width=4", "model.g.depth=1", "model.d.width=8", "data.split=test"]
K = 4


class ShiftG(nn.Module):
    """G(x, c) = x + 0.1·c, reading c from the one-hot planes of its input; keeps every input it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))
        self.inputs: list[Tensor] = []

    def forward(self, inputs: Tensor) -> Tensor:
        self.inputs.append(inputs.detach().clone())
        return inputs[:, :1] + 0.1 * inputs[:, 1:].argmax(dim=1, keepdim=True).float() + self.bias


class FixedD(nn.Module):
    """D's adversarial output is the image's mean; its domain logits are a fixed table (one row per sample)."""

    def __init__(self, class_logits: Tensor) -> None:
        super().__init__()
        self.class_logits = class_logits

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"logits": x.mean(dim=(1, 2, 3))[:, None], "class_logits": self.class_logits}


def hand_made(n: int = 6, seed: int = 5) -> tuple[dict[str, nn.Module], Tensor, Tensor, Tensor, Tensor]:
    """Players, images, their domains, the targets an rng seeded with ``seed`` gives, the domain logits table."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=gen) * 2 - 1
    source = torch.tensor([0, 1, 2, 3, 0, 1])[:n]
    table = torch.randn(n, K, generator=gen)
    targets = torch.randint(K, (n,), generator=torch.Generator().manual_seed(seed))
    return {"g": ShiftG(), "d": FixedD(table)}, x, source, targets, table


def context(players: dict[str, nn.Module], x: Tensor, source: Tensor, seed: int = 5) -> StepContext:
    rng = torch.Generator().manual_seed(seed)
    return StepContext(players, {"train": {"x": x, "domain": source}}, len(x), rng, 1, 10, torch.device("cpu"))


def cross_entropy(table: Tensor, labels: Tensor) -> Tensor:
    return torch.logsumexp(table, dim=1) - table.gather(1, labels[:, None]).squeeze(1)


def objective(state, name: str):
    return next(s for s in state.variant.steps if s.name == name).objective


def test_with_domain_appends_one_constant_plane_per_domain():
    x = torch.randn(3, 2, 5, 5)
    out = with_domain(x, torch.tensor([2, 0, 3]), K)
    assert out.shape == (3, 2 + K, 5, 5) and torch.equal(out[:, :2], x)
    planes = out[:, 2:, 0, 0]
    assert torch.equal(planes, torch.eye(K)[[2, 0, 3]])
    assert torch.equal(out[:, 2:], planes[:, :, None, None].expand(-1, -1, 5, 5))


def test_g_objective_is_adversarial_plus_target_classification_plus_reconstruction_to_the_source():
    state = tiny_state("stargan-digits", SMALL)
    players, x, source, targets, table = hand_made()
    assert len(set(targets.tolist())) > 1 and not torch.equal(targets, source)  # the draw is informative
    losses = objective(state, "g")(context(players, x, source))
    assert set(losses) == {"g_adv", "g_cls", "g_rec"} and all(v.shape == (6,) for v in losses.values())
    fake = x + 0.1 * targets[:, None, None, None]
    torch.testing.assert_close(losses["g_adv"], 0.5 * (fake.mean(dim=(1, 2, 3)) - 1) ** 2)  # LSGAN, c = 1
    lam = state.cfg.options.classification  # the preset's λ_cls
    torch.testing.assert_close(losses["g_cls"], lam * cross_entropy(table, targets))  # the TARGET domain
    torch.testing.assert_close(losses["g_rec"], 10 * 0.1 * (targets + source).float())  # ‖x - G(G(x, c), c')‖₁ = 0.1 (c + c')
    first, second = players["g"].inputs
    assert first.shape[1] == 1 + K and torch.equal(first[:, 0:1], x)
    assert torch.equal(first[:, 1:, 3, 4], torch.eye(K)[targets])  # G sees the target as one-hot planes ...
    torch.testing.assert_close(second[:, 0:1], fake)
    assert torch.equal(second[:, 1:, 0, 0], torch.eye(K)[source])  # ... and the reconstruction goes back to the source


def test_d_objective_is_adversarial_plus_source_classification_of_real_images():
    state = tiny_state("stargan-digits", SMALL)
    players, x, source, targets, table = hand_made()
    losses = objective(state, "d")(context(players, x, source))
    assert set(losses) == {"d_real", "d_fake", "d_cls"}
    fake = x + 0.1 * targets[:, None, None, None]
    torch.testing.assert_close(losses["d_real"], 0.5 * (x.mean(dim=(1, 2, 3)) - 1) ** 2)
    torch.testing.assert_close(losses["d_fake"], 0.5 * fake.mean(dim=(1, 2, 3)) ** 2)
    lam = state.cfg.options.classification
    torch.testing.assert_close(losses["d_cls"], lam * cross_entropy(table, source))  # the real image's OWN domain
    assert torch.equal(players["g"].inputs[0][:, 1:, 0, 0], torch.eye(K)[targets])


def test_weights_and_a_gradient_penalty_enter_the_objectives():
    state = tiny_state("stargan-digits", [*SMALL, "options.classification=2.5", "options.reconstruction=0", "loss.name=wgan", "loss.gp=10"])
    players, x, source, targets, table = hand_made()
    g = objective(state, "g")(context(players, x, source))
    assert set(g) == {"g_adv", "g_cls"}  # λ_rec = 0: no reconstruction
    torch.testing.assert_close(g["g_cls"], 2.5 * cross_entropy(table, targets))
    torch.testing.assert_close(g["g_adv"], -(x + 0.1 * targets[:, None, None, None]).mean(dim=(1, 2, 3)))
    d = objective(state, "d")(context(players, x, source))
    assert set(d) == {"d_real", "d_fake", "d_cls", "gp"}
    torch.testing.assert_close(d["d_cls"], 2.5 * cross_entropy(table, source))
    # D = the image's mean: ‖∇D‖ = ‖1/64‖ over 64 pixels = 1/8 everywhere, so GP = λ (1/8 - 1)²
    torch.testing.assert_close(d["gp"], torch.full((6,), 10 * (1 / 8 - 1) ** 2))


def test_the_networks_see_image_and_domains_and_each_step_trains_its_own_player():
    state = tiny_state("stargan-digits", SMALL)
    v = state.variant
    assert [s.name for s in v.steps] == ["d", "g"] and all(s.streams == ("train",) for s in v.steps)
    first_conv = next(m for m in v.players["g"].modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == 1 + K
    with torch.no_grad():
        heads = v.players["d"](torch.zeros(2, 1, 32, 32))
    assert heads["logits"].shape == (2, 1) and heads["class_logits"].shape == (2, K)
    losses, changed = run_step(state, "d")
    assert changed == {"d"} and set(losses) == {"d_real", "d_fake", "d_cls"}
    losses, changed = run_step(state, "g")
    assert changed == {"g"} and set(losses) == {"g_adv", "g_cls", "g_rec"}


def test_translate_has_one_direction_per_domain():
    state = tiny_state("stargan-digits", SMALL)
    v = state.variant
    assert v.directions == {"to-original": ("x", "x"), "to-thin": ("x", "x"), "to-thick": ("x", "x"), "to-slanted": ("x", "x")}
    assert not v.paired and v.latents is None and "translate" in v.capabilities()
    players = {"g": ShiftG()}
    x = torch.zeros(3, 1, 4, 4)
    for k, direction in enumerate(v.directions):
        torch.testing.assert_close(v.translate(players, x, direction), torch.full_like(x, 0.1 * k))


def test_data_without_domain_labels_is_a_one_line_error():
    for data in ("ring", "digits2mnist", "mnist5k"):  # mnist5k has a label y, but not the domain label the options name
        with pytest.raises(GankitError, match=r"variant 'stargan' translates images x among the domains of the label options\.domain=domain") as error:
            build_state(load_config("stargan-digits", [*TINY, *SMALL, f"data.name={data}"]))
        assert "\n" not in str(error.value)
    state = build_state(load_config("stargan-digits", [*TINY, *SMALL, "data.name=mnist5k", "options.domain=y"]))  # the digits as 10 domains
    assert len(state.variant.directions) == 10
    with pytest.raises(GankitError, match=r"options\.classification must be greater than zero"):
        load_config("stargan-digits", ["options.classification=0"])
    with pytest.raises(GankitError, match=r"options\.reconstruction must be zero or more"):
        load_config("stargan-digits", ["options.reconstruction=-1"])
