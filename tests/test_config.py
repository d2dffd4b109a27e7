"""Config: presets load, overrides convert types, bad values are refused naming the key."""

from __future__ import annotations

import pytest

from gankit.config import apply_overrides, config_class, config_from_dict, config_to_dict, load_config, preset_names, validate
from gankit.errors import GankitError
from gankit.variants import VARIANTS


def test_every_preset_loads_and_validates():
    names = preset_names()
    assert {"gan-1d", "gan-ring", "gan-grid", "minimax-ring"} <= set(names)
    for name in names:
        cfg = load_config(name)
        assert cfg.name == name
        assert cfg.description


def test_overrides_convert_to_the_field_type():
    cfg = load_config("gan-ring", ["train.steps=123", "optim.d.lr=1e-4", "optim.g.betas=[0.0, 0.9]", "train.ema=0.999", "data.std=null"])
    assert cfg.train.steps == 123 and isinstance(cfg.train.steps, int)
    assert cfg.optim.d.lr == pytest.approx(1e-4) and isinstance(cfg.optim.d.lr, float)
    assert cfg.optim.g.betas == (0.0, 0.9)
    assert cfg.train.ema == 0.999
    assert cfg.data.std is None


def test_yaml_exponent_without_dot_is_a_number(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("variant: gan\ndata: {name: ring}\noptim:\n  g: {lr: 1e-3}\ntrain: {steps: 1e3}\n")
    cfg = load_config(str(path))
    assert cfg.optim.g.lr == pytest.approx(1e-3)
    assert cfg.train.steps == 1000
    assert cfg.name == "c"


def test_round_trip_through_a_plain_dict():
    cfg = load_config("gan-grid")
    assert config_from_dict(config_to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["train.stepz=3"], "train.stepz"),
        (["train.steps=abc"], "train.steps"),
        (["train.steps=1.5"], "train.steps"),
        (["train.steps=true"], "train.steps"),
        (["train.batch_size=0"], "train.batch_size"),
        (["optim.g.lr=-1"], "optim.g.lr"),
        (["optim.d.lr=nan"], "optim.d.lr"),
        (["optim.g.betas=0.5"], "optim.g.betas"),
        (["optim.g.betas=[0.5, 1.0]"], "optim.g.betas[1]"),
        (["optim.g.name=adamw2"], "optim.g.name"),
        (["loss.name=hingee"], "loss.name"),
        (["data.name=cifar-1000"], "data.name"),
        (["variant=nope"], "variant"),
        (["model.g.arch=transformer"], "model.g.arch"),
        (["model.g=3"], "model.g"),
        (["train=3"], "train"),
        (["train.device=tpu"], "train.device"),
        (["train.ema=1.0"], "train.ema"),
        (["data.std=0"], "data.std"),
        (["sampler.quantile=0"], "sampler.quantile"),
        (["sampler.quantile=1.5"], "sampler.quantile"),
        (["sampler.quantile=nan"], "sampler.quantile"),
        (["sampler.name=rejection"], "sampler.name"),
        (["sampler.calibration=temperature"], "sampler.calibration"),
        (["sampler.estimator=g"], "sampler.estimator"),
        (["sampler.refit_steps=0"], "sampler.refit_steps"),
        (["sampler.refit_batch=0"], "sampler.refit_batch"),
        (["model.drs_quantile=0.9"], "model.drs_quantile"),  # version 1's key: unknown now (DRS settings are sampler.*)
        (["name=a/b"], "name"),
        (["steps"], "key=value"),
    ],
)
def test_bad_values_are_refused_naming_the_key(overrides, needle):
    with pytest.raises(GankitError) as info:
        load_config("gan-ring", overrides)
    assert needle in str(info.value)


def test_unknown_keys_suggest_the_close_name():
    with pytest.raises(GankitError, match="did you mean 'steps'"):
        load_config("gan-ring", ["train.stepss=3"])
    with pytest.raises(GankitError, match="unknown config key 'modle'"):
        config_from_dict({"modle": {}})


def test_unknown_preset_and_missing_file():
    with pytest.raises(GankitError, match="did you mean 'gan-ring'"):
        load_config("gan-rin")
    with pytest.raises(GankitError, match="does not exist"):
        load_config("nowhere/config.yaml")


@pytest.mark.parametrize(
    ("text", "needle"),
    [("train: {steps: 3\n", "not valid YAML at line"), ("- a\n- b\n", "mapping"), ("variant: gan\ndata: {name: ring}\ntrain: 5\n", "train is a section")],
)
def test_bad_yaml_files(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(GankitError, match=needle):
        load_config(str(path))


def test_defaults_validate():
    for name in VARIANTS:
        validate(config_class(name)(variant=name))


def test_override_does_not_mutate_the_input():
    cfg = load_config("gan-ring")
    apply_overrides(cfg, ["train.steps=7"])
    assert cfg.train.steps != 7


@pytest.mark.parametrize(
    ("preset", "setting", "message"),
    [
        ("gan-ring", "loss.ls_a=0.5", r"loss\.ls_a=0\.5 would have no effect: the LSGAN targets are read by loss\.name=lsgan only"),
        ("gan-ring", "loss.gp_mode=one-sided", r"loss\.gp_mode='one-sided' would have no effect: .*loss\.gp is 0"),
        ("gan-ring", "loss.reg_every=4", r"loss\.reg_every=4 would have no effect"),
        ("gan-ring", "sampler.quantile=0.9", r"sampler\.quantile=0\.9 would have no effect: .*sampler\.name is plain"),
        ("gan-ring", "train.watchdog=false train.watchdog_start=5", r"train\.watchdog_start=5 would have no effect"),
    ],
)
def test_settings_that_would_do_nothing_are_refused(preset, setting, message):
    with pytest.raises(GankitError, match=message):
        load_config(preset, setting.split())


def test_settings_that_apply_are_accepted():
    assert load_config("lsgan-ring", ["loss.ls_a=-1"]).loss.ls_a == -1
    assert load_config("gan-ring", ["loss.gp=1", "loss.gp_mode=one-sided"]).loss.gp_mode == "one-sided"
    assert load_config("gan-ring", ["sampler.name=drs", "sampler.quantile=0.9"]).sampler.quantile == 0.9
