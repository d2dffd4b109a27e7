"""Advice that works: every option and config key a message (or help text) names exists, for the command it names."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import typer

from gankit.cli import app
from gankit.config import Config, DataConfig, LossConfig, SamplerConfig, TrainConfig

SOURCE = Path(__file__).resolve().parents[1] / "gankit"
HOLE = "\x00"  # stands for an f-string's replacement field


def _strings() -> list[tuple[str, str]]:
    """Every string literal in gankit's source (f-strings with their fields as HOLE), with where it is."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else HOLE for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            else:
                continue
            found.append((f"{path.relative_to(SOURCE.parent)}:{node.lineno}", text))
    return found


def _commands() -> dict[str, set[str]]:
    group = typer.main.get_command(app)
    options = {}
    for name, command in group.commands.items():
        options[name] = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}
    return options


OTHER_TOOLS = ("torchrun", "pip", "pytest", "make", "pytorch-fid", "SLURM")  # options of other programs, named beside them


def test_the_scan_finds_the_hints():
    texts = [t for _, t in _strings()]
    assert any("`gankit resume" in t for t in texts) and any("--overwrite" in t for t in texts)
    assert {"train", "sample", "eval", "stats", "runs", "presets"} <= set(_commands())


def test_every_option_a_message_names_exists():
    commands = _commands()
    every = set().union(*commands.values()) | {"--help", "--version"}
    wrong = []
    for where, text in _strings():
        for hint in re.finditer(r"`gankit ([\w\x00]+)([^`]*)`", text):  # `gankit CMD ... --opt`: CMD's own options
            name, rest = hint.groups()
            if HOLE in name:
                continue
            if name not in commands:
                wrong.append(f"{where}: unknown command 'gankit {name}'")
                continue
            for opt in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
                if opt not in commands[name] | {"--help"}:
                    wrong.append(f"{where}: 'gankit {name}' has no {opt}")
        for match in re.finditer(r"(?<![\w-])(--[a-z][a-z-]*)", text):
            before = text[: match.start()]
            if any(tool in before[-40:] for tool in OTHER_TOOLS):
                continue
            if match.group(1) not in every:
                wrong.append(f"{where}: no command has {match.group(1)}")
    assert not wrong, "\n".join(wrong)


def _config_keys() -> set[str]:
    keys = set()
    for section, cls in (("data", DataConfig), ("loss", LossConfig), ("train", TrainConfig), ("sampler", SamplerConfig)):
        keys |= {f"{section}.{f.name}" for f in dataclasses.fields(cls)}
    return keys


def test_every_config_key_a_message_names_exists():
    sections = {f.name for f in dataclasses.fields(Config)}
    known = _config_keys()
    wrong = []
    for where, text in _strings():
        for key in re.findall(r"(?<![\w./-])((?:data|loss|train|sampler)\.[a-z_]+)\b", text):
            if key not in known:
                wrong.append(f"{where}: no config key {key}")
        for key in re.findall(r"--set ([a-z_]{2,})\.", text):
            if key not in sections:
                wrong.append(f"{where}: --set {key}.… is no config section")
    assert not wrong, "\n".join(wrong)
