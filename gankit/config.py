"""Typed configuration: dataclasses, YAML presets, ``--set`` overrides and validation.

A config is loaded from a preset name (``gankit/presets/NAME.yaml``) or a YAML file, overridden with
``--set a.b=value`` (the value is read as YAML and converted to the key's type), and validated as a whole
before anything runs. Every error is a :class:`GankitError` naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from gankit.errors import GankitError


@dataclass
class DataConfig:
    """What the real samples are.

    Images: ``split`` (train, test, all), ``root`` (folder or .npz path), ``image_size`` (resize to a square),
    ``resize`` (bilinear, nearest, pad), ``channels`` (1 or 3, to convert a folder), ``labels`` (classes from a
    folder's sub-directories), ``skip_bad`` (skip unreadable files), ``workers`` (threads that decode a folder's
    images; 0: the calling thread). Toys: ``mean``, ``std``, ``radius``,
    ``modes``, ``grid_size``, ``spacing``.
    """

    name: str = "ring"
    split: str = "train"
    root: str | None = None
    image_size: int | None = None
    resize: str = "bilinear"
    channels: int | None = None
    labels: bool = False
    skip_bad: bool = False
    mean: float = 4.0
    std: float | None = None
    radius: float = 2.0
    modes: int = 8
    grid_size: int = 5
    spacing: float = 2.0
    workers: int = 0


@dataclass
class NetConfig:
    """One player's network. ``norm``: none, batch, layer, or virtual (generators: virtual batch norm with a fixed
    reference batch). ``sn``: spectral normalisation of every layer. ``minibatch``: minibatch-discrimination kernels
    (discriminators; 0 = off). MLPs and DCGAN image readers: ``input_noise`` / ``noise``, the standard deviation of
    Gaussian noise added in training to the input / to every hidden layer's output (Salimans et al., 2016: 0.3 and
    0.5). MLPs only: ``weight_norm``, weight normalisation of every linear layer (Salimans & Kingma, 2016), and
    ``output``, the output layer's activation: none or tanh (images lie in [-1, 1])."""

    arch: str = "mlp"
    width: int = 128
    depth: int = 3
    activation: str = "relu"
    norm: str = "none"
    sn: bool = False
    minibatch: int = 0
    input_noise: float = 0.0
    noise: float = 0.0
    weight_norm: bool = False
    output: str = "none"


@dataclass
class OptimizerConfig:
    name: str = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    momentum: float = 0.0
    eps: float = 1e-8
    weight_decay: float = 0.0
    decay_start: float = 1.0


@dataclass
class SamplerConfig:
    """How ``sample``, pictures and metrics draw from a noise model. ``name``: ``plain`` (decode the latents) or
    ``drs``, discriminator rejection sampling (Azadi et al., 2019): the ``quantile`` of the burn-in log-ratios is the
    rejection bound; ``calibration`` none, platt or isotonic; ``estimator`` ``d`` (the variant's discriminator) or
    ``refit`` (a fresh classifier fitted for ``refit_steps`` steps of ``refit_batch`` samples with G fixed)."""

    name: str = "plain"
    quantile: float = 0.999
    calibration: str = "none"
    estimator: str = "d"
    refit_steps: int = 20_000
    refit_batch: int = 512


@dataclass
class NoOptions:
    """A variant without options of its own."""


@dataclass
class LossConfig:
    """The adversarial game and the discriminator's regularisers.

    ``name``: ``nonsaturating`` (-log D(G(z)) for G), ``minimax`` (log(1 - D(G(z)))), ``wgan``, ``lsgan``
    (targets ``ls_a`` fake, ``ls_b`` real, ``ls_c`` for G), ``hinge``. ``real_label`` < 1: one-sided label
    smoothing (cross-entropy games). ``gp``: gradient-penalty weight λ on interpolates, ``gp_mode`` two-sided or
    one-sided. ``r1`` / ``r2``: weight γ of ½‖∇D‖² on real / generated samples, every ``reg_every`` steps (lazy,
    scaled by the interval). ``clip``: WGAN weight clipping to [-clip, clip] (0: off). Terms that only one variant
    has (feature matching, historical averaging, the AC-GAN class weight ...) are that variant's ``options.*``.
    """

    name: str = "nonsaturating"
    real_label: float = 1.0
    ls_a: float = 0.0
    ls_b: float = 1.0
    ls_c: float = 1.0
    gp: float = 0.0
    gp_mode: str = "two-sided"
    r1: float = 0.0
    r2: float = 0.0
    reg_every: int = 1
    clip: float = 0.0


@dataclass
class TrainConfig:
    steps: int = 5000
    batch_size: int = 256
    seed: int = 0
    d_steps: int = 1
    log_every: int = 100
    sample_every: int = 1000
    ckpt_every: int = 1000
    keep: int = 1
    sample_n: int = 2500
    device: str = "auto"
    ema: float = 0.0
    ema_start: int = 0
    augment: str = ""
    progress: str = "auto"
    watchdog: bool = True
    watchdog_start: int = 1000
    stop_signals: str = "INT,TERM,USR1"
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    threads: int = 0
    sync_bn: bool = False


@dataclass
class Config:
    """The base layout. Each variant has its own config class (see :func:`config_class`): ``model`` holds one
    :class:`NetConfig` section per player the variant declares (and ``z_dim`` / ``z_prior`` for noise models),
    ``optim`` one :class:`OptimizerConfig` per optimiser group, ``options`` the variant's own typed options."""

    name: str = "experiment"
    description: str = ""
    variant: str = "gan"
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = None
    loss: LossConfig = field(default_factory=LossConfig)
    optim: Any = None
    train: TrainConfig = field(default_factory=TrainConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    options: Any = None


@dataclass(frozen=True)
class VariantLayout:
    """What a variant declares for its config: players (name -> default network), optimiser groups (name ->
    default optimiser), its options class, whether its model draws noise (``model.z_dim``, ``model.z_prior``) and
    whether it applies ``train.augment`` to its networks' data inputs."""

    players: dict[str, NetConfig]
    groups: dict[str, OptimizerConfig]
    options: type = NoOptions
    noise: bool = True
    augment: bool = False


LAYOUTS: dict[str, VariantLayout] = {}  # filled by gankit.variants.register
_CLASSES: dict[str, type] = {}


def _section_class(name: str, base: list[tuple[str, Any, Any]], entries: dict[str, Any], tp: type) -> type:
    fields_ = [*base]
    for key, default in entries.items():
        fields_.append((key, tp, field(default_factory=lambda d=default: dataclasses.replace(d))))
    return dataclasses.make_dataclass(name, fields_)


def config_class(variant: str) -> type:
    """The config class of ``variant``: :class:`Config` with its ``model``, ``optim`` and ``options`` sections typed
    by the variant's declared players, groups and options (validated by the same machinery as every section)."""
    import gankit.variants  # noqa: F401  (registers the variants and their layouts)

    if variant not in LAYOUTS:
        names = sorted(LAYOUTS)
        close = difflib.get_close_matches(str(variant), names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise GankitError(f"variant: unknown name '{variant}'; {hint}choose one of: {', '.join(names)}")
    if variant not in _CLASSES:
        layout = LAYOUTS[variant]
        noise = [("z_dim", int, field(default=2)), ("z_prior", str, field(default="normal"))] if layout.noise else []
        tag = "".join(part.title() for part in variant.replace("_", "-").split("-"))
        model = _section_class(f"{tag}ModelConfig", noise, layout.players, NetConfig)
        optim = _section_class(f"{tag}OptimConfig", [], layout.groups, OptimizerConfig)
        options = layout.options
        _CLASSES[variant] = dataclasses.make_dataclass(
            f"{tag}Config",
            [
                ("model", model, field(default_factory=model)),
                ("optim", optim, field(default_factory=optim)),
                ("options", options, field(default_factory=options)),
            ],
            bases=(Config,),
        )
    return _CLASSES[variant]


def players_of(cfg: Config) -> dict[str, NetConfig]:
    """The player sections of ``cfg.model`` (name -> NetConfig), in declaration order."""
    return {f.name: getattr(cfg.model, f.name) for f in dataclasses.fields(cfg.model) if f.type is NetConfig or f.type == "NetConfig"}


def groups_of(cfg: Config) -> dict[str, OptimizerConfig]:
    """The optimiser groups of ``cfg.optim`` (name -> OptimizerConfig), in declaration order."""
    return {f.name: getattr(cfg.optim, f.name) for f in dataclasses.fields(cfg.optim)}


def options_owner(key: str) -> list[str]:
    """The variants whose options have a key named ``key`` (for 'unknown key' hints)."""
    return sorted(name for name, layout in LAYOUTS.items() if key in {f.name for f in dataclasses.fields(layout.options)})



# --------------------------------------------------------------------------------------------- building


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        return f"a list of {len(args)} {_type_name(args[0])}s"
    if _is_dataclass_type(tp):
        return "a section (mapping)"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a YAML value to the field type ``tp`` or raise a GankitError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except GankitError:
                continue
        raise GankitError(f"{key} must be {_type_name(tp)} (got {value!r})")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise GankitError(f"{key} must be {_type_name(tp)}, e.g. [0.5, 0.999] (got {value!r})")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if _is_dataclass_type(tp):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise GankitError(f"{key} is a section: give it as a mapping of keys (got {value!r})")
        return _build(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise GankitError(f"{key} must be true or false (got {value!r})")
    if tp is int:
        if isinstance(value, bool):
            raise GankitError(f"{key} must be an integer (got {value!r})")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                as_float = float(value)
            except ValueError:
                as_float = math.nan
            if as_float.is_integer():
                return int(as_float)
        raise GankitError(f"{key} must be an integer (got {value!r})")
    if tp is float:
        if isinstance(value, bool):
            raise GankitError(f"{key} must be a number (got {value!r})")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise GankitError(f"{key} must be a number (got {value!r})")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise GankitError(f"{key} must be a string (got {value!r})")
    raise TypeError(f"unsupported config field type {tp!r} for {key}")


def _unknown_key(key: str, known: list[str]) -> GankitError:
    name = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f"; known keys here: {', '.join(known) or 'none'}"
    owners = options_owner(name) if key.startswith("options.") and key.count(".") == 1 else []
    if owners:
        hint += f"; '{name}' is an option of variant {', '.join(repr(o) for o in owners)}"
    return GankitError(f"unknown config key '{key}'{hint}")


def _build(cls: type, raw: dict[str, Any], prefix: str = "") -> Any:
    hints = _hints(cls)
    kwargs = {}
    for key, value in raw.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in hints:
            raise _unknown_key(path, list(hints))
        kwargs[key] = _coerce(value, hints[key], path)
    return cls(**kwargs)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Build a variant's config (see :func:`config_class`) from a plain mapping (unknown keys and wrong types raise)."""
    if not isinstance(raw, dict):
        raise GankitError("a config must be a YAML mapping of keys (name, variant, data, model, ...)")
    variant = raw.get("variant", Config.variant)
    if not isinstance(variant, str):
        raise GankitError(f"variant must be a string, a variant's name (got {variant!r})")
    return _build(config_class(variant), raw)


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """A plain, YAML- and checkpoint-friendly mapping (tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(cfg))


def flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``a.b=value`` strings; the value is parsed as YAML and converted to the key's type."""
    raw = config_to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise GankitError(f"--set expects key=value, e.g. --set train.steps=1000 (got '{item}')")
        key, text = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        node: Any = raw
        cls: type = config_class(raw["variant"])
        for i, part in enumerate(parts):
            hints = _hints(cls)
            path = ".".join(parts[: i + 1])
            if part not in hints:
                raise _unknown_key(path, list(hints))
            tp = hints[part]
            if i < len(parts) - 1:
                if not _is_dataclass_type(tp):
                    raise GankitError(f"{path} is not a section, so '{key}' does not exist")
                node = node[part]
                cls = tp
            else:
                if _is_dataclass_type(tp):
                    raise GankitError(f"{key} is a section; set one of its keys, e.g. --set {key}.{next(iter(_hints(tp)))}=...")
                node[part] = _parse_override(text, tp)
    return config_from_dict(raw)


def _parse_override(text: str, tp: Any) -> Any:
    """Read an override's value as YAML, except that a string field takes the text as written
    (so ``--set train.progress=off`` is the string 'off', not YAML's boolean)."""
    stripped = text.strip()
    quoted = len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\""
    if tp is str and not quoted:
        return stripped
    if stripped.lower() in ("null", "~", "none") and tp is not str:
        return None
    try:
        return yaml.safe_load(stripped) if stripped else ""
    except yaml.YAMLError:
        return stripped


# --------------------------------------------------------------------------------------------- loading


def preset_names() -> list[str]:
    folder = resources.files("gankit.presets")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise GankitError(f"{where} is not valid YAML{at}: {problem}; fix the file and try again") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise GankitError(f"{where} must be a YAML mapping of config keys (name, variant, data, ...)")
    return raw


def read_preset(name: str) -> dict[str, Any]:
    path = resources.files("gankit.presets") / f"{name}.yaml"
    return _read_yaml(path.read_text(), f"preset '{name}'")


def load_config(source: str, overrides: list[str] | None = None) -> Config:
    """Load a preset name or a YAML file, apply overrides and validate."""
    looks_like_file = source.endswith((".yaml", ".yml")) or "/" in source or Path(source).exists()
    if looks_like_file:
        path = Path(source)
        if not path.is_file():
            raise GankitError(f"config file '{source}' does not exist; give a preset name (see `gankit presets`) or a YAML file")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise GankitError(f"cannot read config file '{source}': {exc}") from None
        raw = _read_yaml(text, f"config file '{source}'")
        missing = [key for key in ("variant", "data") if key not in raw]
        if missing:
            raise GankitError(
                f"config file '{source}' has no {' or '.join(repr(k) for k in missing)} key"
                f"{' (the file is empty)' if not raw else ''}; start from a preset: `gankit presets`, or copy one's YAML"
            )
        raw.setdefault("name", path.stem)
    else:
        names = preset_names()
        if source not in names:
            close = difflib.get_close_matches(source, names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise GankitError(f"unknown preset '{source}'; {hint}run `gankit presets` to list them")
        raw = read_preset(source)
    cfg = apply_overrides(config_from_dict(raw), overrides or [])
    validate(cfg)
    refuse_inert(cfg)
    return cfg


def save_config(cfg: Config, path: Path) -> None:
    """Write the resolved config as YAML, atomically (a temporary file renamed into place)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    os.replace(tmp, path)


def load_saved_config(path: Path) -> Config:
    """Read a run directory's ``config.yaml``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise GankitError(f"cannot read {path}: {exc.strerror}") from None
    cfg = config_from_dict(_read_yaml(text, str(path)))
    validate(cfg)
    return cfg


# --------------------------------------------------------------------------------------------- validation


def _choice(key: str, value: str, choices: list[str]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise GankitError(f"{key}: unknown name '{value}'; {hint}choose one of: {', '.join(choices)}")


def _positive(key: str, value: float, *, allow_zero: bool = False) -> None:
    bad = not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero)
    if bad:
        need = "zero or more" if allow_zero else "greater than zero"
        raise GankitError(f"{key} must be {need} (got {value})")


def _validate_loss(loss: LossConfig) -> None:
    from gankit.losses import BCE_GAMES
    from gankit.regularizers import GP_MODES

    if not 0.0 < loss.real_label <= 1.0:
        raise GankitError(f"loss.real_label is the target for real samples, in (0, 1]; one-sided smoothing uses 0.9 (got {loss.real_label})")
    if loss.real_label != 1.0 and loss.name not in BCE_GAMES:
        raise GankitError(f"loss.real_label (label smoothing) applies to the cross-entropy games {', '.join(BCE_GAMES)}, not '{loss.name}'")
    for key in ("ls_a", "ls_b", "ls_c"):
        if not math.isfinite(getattr(loss, key)):
            raise GankitError(f"loss.{key} must be a finite number (got {getattr(loss, key)})")
    if loss.name == "lsgan" and loss.ls_a == loss.ls_b:
        raise GankitError(f"loss.ls_a (fake target) and loss.ls_b (real target) must differ (both {loss.ls_a})")
    for key in ("gp", "r1", "r2", "clip"):
        _positive(f"loss.{key}", getattr(loss, key), allow_zero=True)
    _choice("loss.gp_mode", loss.gp_mode, list(GP_MODES))
    _positive("loss.reg_every", loss.reg_every)


def validate(cfg: Config) -> None:
    """Check every value before anything runs; raise a GankitError naming the key."""
    from gankit.data import DATASETS
    from gankit.losses import GAMES
    from gankit.nets import ACTIVATIONS, ARCHITECTURES, NORMS
    from gankit.variants import VARIANTS

    _choice("variant", cfg.variant, sorted(VARIANTS))
    _choice("data.name", cfg.data.name, sorted(DATASETS))
    _choice("loss.name", cfg.loss.name, sorted(GAMES))
    _validate_loss(cfg.loss)
    if not cfg.name or any(c in cfg.name for c in "/\\\0") or cfg.name.startswith("."):
        raise GankitError(f"name must be a plain name without '/' (got {cfg.name!r})")
    _choice("data.split", cfg.data.split, ["train", "val", "test", "all"])
    _choice("data.resize", cfg.data.resize, ["bilinear", "nearest", "pad"])
    if cfg.data.image_size is not None and not 4 <= cfg.data.image_size <= 4096:
        raise GankitError(f"data.image_size must be between 4 and 4096 pixels (got {cfg.data.image_size})")
    if cfg.data.channels not in (None, 1, 3):
        raise GankitError(f"data.channels must be 1 (greyscale) or 3 (colour) (got {cfg.data.channels})")
    if cfg.data.std is not None:
        _positive("data.std", cfg.data.std)
    _positive("data.radius", cfg.data.radius)
    _positive("data.spacing", cfg.data.spacing)
    _positive("data.modes", cfg.data.modes)
    _positive("data.grid_size", cfg.data.grid_size)
    _positive("data.workers", cfg.data.workers, allow_zero=True)
    if not math.isfinite(cfg.data.mean):
        raise GankitError(f"data.mean must be a finite number (got {cfg.data.mean})")

    if hasattr(cfg.model, "z_dim"):
        _positive("model.z_dim", cfg.model.z_dim)
        _choice("model.z_prior", cfg.model.z_prior, ["normal", "uniform"])
    sampler = cfg.sampler
    _choice("sampler.name", sampler.name, ["plain", "drs"])
    _choice("sampler.calibration", sampler.calibration, ["none", "platt", "isotonic"])
    _choice("sampler.estimator", sampler.estimator, ["d", "refit"])
    _positive("sampler.refit_steps", sampler.refit_steps)
    _positive("sampler.refit_batch", sampler.refit_batch)
    if not 0.0 < sampler.quantile <= 1.0:
        raise GankitError(f"sampler.quantile must be in (0, 1] (the burn-in log-ratios' quantile used as the rejection bound), got {sampler.quantile}")
    for player, net in players_of(cfg).items():
        _choice(f"model.{player}.arch", net.arch, sorted(ARCHITECTURES))
        _choice(f"model.{player}.activation", net.activation, sorted(ACTIVATIONS))
        _choice(f"model.{player}.norm", net.norm, sorted(NORMS))
        _positive(f"model.{player}.width", net.width)
        _positive(f"model.{player}.depth", net.depth)
        _positive(f"model.{player}.minibatch", net.minibatch, allow_zero=True)
        _positive(f"model.{player}.input_noise", net.input_noise, allow_zero=True)
        _positive(f"model.{player}.noise", net.noise, allow_zero=True)
        _choice(f"model.{player}.output", net.output, ["none", "tanh"])
        if net.arch not in ("mlp", "dcgan") and (net.input_noise or net.noise):
            raise GankitError(f"model.{player}: input_noise and noise are options of the mlp and dcgan architectures, not of {net.arch}; remove them")
        if net.arch != "mlp" and (net.weight_norm or net.output != "none"):
            raise GankitError(f"model.{player}: weight_norm and output are options of the mlp architecture, not of {net.arch}; remove them")

    for group, opt in groups_of(cfg).items():
        key = f"optim.{group}"
        _choice(f"{key}.name", opt.name, ["adam", "rmsprop", "sgd"])
        _positive(f"{key}.lr", opt.lr)
        _positive(f"{key}.eps", opt.eps)
        _positive(f"{key}.momentum", opt.momentum, allow_zero=True)
        _positive(f"{key}.weight_decay", opt.weight_decay, allow_zero=True)
        if not 0.0 <= opt.decay_start <= 1.0:
            raise GankitError(
                f"{key}.decay_start is the fraction of train.steps after which the learning rate decays linearly to 0, "
                f"in [0, 1] with 1 = constant (got {opt.decay_start})"
            )
        for i, beta in enumerate(opt.betas):
            if not 0.0 <= beta < 1.0:
                raise GankitError(f"{key}.betas[{i}] must be in [0, 1) (got {beta})")
    check = getattr(cfg.options, "validate", None)
    if check is not None:  # a variant's options check themselves (and their relation to the rest of the config)
        check(cfg)

    t = cfg.train
    for key in ("steps", "batch_size", "d_steps", "log_every", "sample_every", "ckpt_every", "sample_n", "keep"):
        _positive(f"train.{key}", getattr(t, key))
    if not 0 <= t.seed < 2**32:
        raise GankitError(f"train.seed must be between 0 and 2**32 - 1 (got {t.seed})")
    _choice("train.device", t.device, ["auto", "cpu", "cuda"])
    _choice("train.progress", t.progress, ["auto", "bar", "lines", "none", "off"])
    _choice("train.precision", t.precision, ["fp32", "bf16", "fp16"])
    _positive("train.threads", t.threads, allow_zero=True)
    from gankit.train.signals import parse_signals

    parse_signals(t.stop_signals)
    if not 0.0 <= t.ema < 1.0:
        raise GankitError(
            f"train.ema is the decay of the moving averages of the generator (and of D where a variant averages it), in [0, 1) with 0 = off (got {t.ema})"
        )
    _positive("train.ema_start", t.ema_start, allow_zero=True)
    _positive("train.watchdog_start", t.watchdog_start, allow_zero=True)
    from gankit.augment import AUGMENTS, parse_augment

    for name in parse_augment(t.augment):
        _choice("train.augment", name, sorted(AUGMENTS))


def _refuse_unused(section: str, values: Any, default: Any, keys: tuple[str, ...], why: str) -> None:
    unused = [k for k in keys if getattr(values, k) != getattr(default, k)]
    if unused:
        listed = ", ".join(f"{section}.{k}={getattr(values, k)!r}" for k in unused)
        raise GankitError(f"{listed} would have no effect: {why}; remove the setting or change the one it depends on")


def refuse_inert(cfg: Config) -> None:
    """Settings away from their default that the rest of a new config makes inert are refused (they would do
    nothing, silently): the LSGAN targets under another game, a penalty's options without the penalty, rejection
    sampling's options with plain sampling, the EMA's or watchdog's start with them off, ``train.augment`` for a
    variant that does not augment. Data keys the chosen source never reads are found when it is built
    (:func:`gankit.data.build_dataset`, ``strict``). Saved runs are not re-checked, so nothing trained before becomes
    unreadable."""
    loss, sampler, t = cfg.loss, cfg.sampler, cfg.train
    if loss.name != "lsgan":
        _refuse_unused("loss", loss, LossConfig(), ("ls_a", "ls_b", "ls_c"), f"the LSGAN targets are read by loss.name=lsgan only, not '{loss.name}'")
    if not loss.gp:
        _refuse_unused("loss", loss, LossConfig(), ("gp_mode",), "it is the gradient penalty's mode, and loss.gp is 0")
    if not (loss.r1 or loss.r2):
        _refuse_unused("loss", loss, LossConfig(), ("reg_every",), "it is the R1/R2 penalties' interval, and loss.r1 and loss.r2 are 0")
    if sampler.name == "plain":
        _refuse_unused("sampler", sampler, SamplerConfig(), ("quantile", "calibration", "estimator", "refit_steps", "refit_batch"),
                       "it configures rejection sampling, and sampler.name is plain")
    elif sampler.estimator != "refit":
        _refuse_unused("sampler", sampler, SamplerConfig(), ("refit_steps", "refit_batch"), "it configures sampler.estimator=refit only")
    if not t.ema:
        _refuse_unused("train", t, TrainConfig(), ("ema_start",), "it is when the moving averages start, and train.ema is 0 (off)")
    if not t.watchdog:
        _refuse_unused("train", t, TrainConfig(), ("watchdog_start",), "it is when the watchdog starts, and train.watchdog is false")
    if not LAYOUTS[cfg.variant].augment:  # the variant was validated: its layout is registered
        takers = ", ".join(sorted(name for name, lay in LAYOUTS.items() if lay.augment))
        _refuse_unused("train", t, TrainConfig(), ("augment",), f"variant '{cfg.variant}' does not augment its inputs (those that do: {takers})")
