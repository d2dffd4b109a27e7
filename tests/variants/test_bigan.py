"""BiGAN: D scores joint pairs (x, E(x)) against (G(z), z); E and G train together against it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.variants.base import latent
from tests.variants.steps import run_step, step_context, tiny_state


def _joint(p, a, b):
    """The joint score of the plain game (no unary terms): dj on the leaky-ReLU'd features of the image and the code."""
    h = torch.cat([F.leaky_relu(p["dx"](a), 0.2), F.leaky_relu(p["dz"](b), 0.2)], dim=1)
    return p["dj"](h)["logits"].reshape(-1)


SMALL = ["model.g.width=8", "model.e.width=8", "model.dx.width=8", "model.dz.width=16", "model.dj.width=16", "model.z_dim=6", "options.features=16"]


def test_d_scores_real_pairs_with_the_encoder_and_fake_pairs_with_their_noise():
    state = tiny_state("bigan-mnist", [*SMALL, "options.unary=false"])  # the joint score alone (the preset adds the unary ones)
    v = state.variant
    step = next(s for s in v.steps if s.name == "d")
    replay = torch.Generator().set_state(state.noise.get_state())
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    x = ctx.batch["x"]
    z = latent(ctx.n, 6, "uniform", replay, state.device)
    p = v.players

    with torch.no_grad():
        torch.testing.assert_close(losses["d_real"], F.softplus(-_joint(p, x, p["e"](x))))
        torch.testing.assert_close(losses["d_fake"], F.softplus(_joint(p, p["g"](z), z)))


def test_the_d_step_trains_only_d_and_the_other_step_trains_g_and_e_together():
    state = tiny_state("bigan-mnist", SMALL)
    assert run_step(state, "d")[1] == {"dx", "dz", "dj"}
    losses, changed = run_step(state, "ge")
    assert changed == {"g", "e"} and set(losses) == {"e", "g"}
    x = state.streams["train"].next(4)["x"]
    v = state.variant
    with torch.no_grad():
        assert v.encode(v.players, x).shape == (4, 6)
        torch.testing.assert_close(v.translate(v.players, x, "reconstruct"), v.players["g"](v.players["e"](x)))


def test_with_train_augment_d_scores_transformed_images_beside_untransformed_codes():
    from gankit.augment import make_augment

    state = tiny_state("bigan-mnist", [*SMALL, "options.unary=false", "train.augment=translation,cutout"])
    v = state.variant
    step = next(s for s in v.steps if s.name == "d")
    replay = torch.Generator().set_state(state.noise.get_state())
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    x, p, augment = ctx.batch["x"], v.players, make_augment("translation,cutout")
    z = latent(ctx.n, 6, "uniform", replay, state.device)

    with torch.no_grad():
        seen_x, seen_fake = augment(x, replay), augment(p["g"](z), replay)
        assert not torch.equal(seen_x, x)
        torch.testing.assert_close(losses["d_real"], F.softplus(-_joint(p, seen_x, p["e"](x))))  # E reads the untransformed digit
        torch.testing.assert_close(losses["d_fake"], F.softplus(_joint(p, seen_fake, z)))


def test_unary_scores_add_the_image_and_code_terms_to_every_pairs_loss():
    state = tiny_state("bigan-mnist", [*SMALL, "options.unary=true"])
    v, p = state.variant, state.variant.players
    assert p["dx"](torch.zeros(2, 1, 28, 28)).shape == (2, 17) and p["dz"](torch.zeros(2, 6)).shape == (2, 17)
    losses = {}
    for name in ("d", "ge"):
        step = next(s for s in v.steps if s.name == name)
        replay = torch.Generator().set_state(state.noise.get_state())
        ctx = step_context(state, step)
        losses[name] = step.objective(ctx)
        z = latent(ctx.n, 6, "uniform", replay, state.device)
        x = ctx.batch["x"]
        with torch.no_grad():
            fx_real, fz_real, fx_fake, fz_fake = p["dx"](x), p["dz"](p["e"](x)), p["dx"](p["g"](z)), p["dz"](z)

            def three(fx, fz):  # joint, image's and code's logits
                h = torch.cat([F.leaky_relu(fx[:, :16], 0.2), F.leaky_relu(fz[:, :16], 0.2)], dim=1)
                return [p["dj"](h)["logits"].reshape(-1), fx[:, 16], fz[:, 16]]

            real, fake = three(fx_real, fz_real), three(fx_fake, fz_fake)
        if name == "d":
            torch.testing.assert_close(losses[name]["d_real"], sum(F.softplus(-s) for s in real))
            torch.testing.assert_close(losses[name]["d_fake"], sum(F.softplus(s) for s in fake))
        else:
            torch.testing.assert_close(losses[name]["e"], sum(F.softplus(s) for s in real))
            torch.testing.assert_close(losses[name]["g"], sum(F.softplus(-s) for s in fake))
