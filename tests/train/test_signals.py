"""Stop signals (gankit.train.signals): parsing train.stop_signals, the handler's request, the Interrupted message.
The end-to-end checks (a signalled run checkpoints and resumes bit-identically) are in test_resume.py."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.train.signals import Interrupted, parse_signals, stop_on_signals


def test_parse_signals_accepts_names_with_or_without_sig_and_none():
    assert parse_signals("INT,TERM,USR1") == [signal.SIGINT, signal.SIGTERM, signal.SIGUSR1]
    assert parse_signals("sigterm, usr1, TERM") == [signal.SIGTERM, signal.SIGUSR1]
    assert parse_signals("none") == [] and parse_signals("") == []


def test_an_unknown_signal_is_a_config_error():
    with pytest.raises(GankitError, match=r"train.stop_signals: unknown signal 'KILL'"):
        load_config("gan-ring", ["train.stop_signals=TERM,KILL"])


def test_a_signal_sets_the_request_and_the_previous_handler_returns():
    before = signal.getsignal(signal.SIGUSR1)
    with stop_on_signals([signal.SIGUSR1, signal.SIGUSR2]) as request:
        assert not request
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)  # a later signal does not replace the first
        assert request.signum == signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) is before


def test_a_second_ctrl_c_stops_at_once():
    with stop_on_signals([signal.SIGINT]) as request:
        os.kill(os.getpid(), signal.SIGINT)
        assert request.signum == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)


def test_interrupted_says_where_the_run_is_and_how_to_continue():
    run, ckpt = Path("/runs/00003-x"), Path("/runs/00003-x/checkpoints/last.pt")
    now = Interrupted(run, 120, signal.SIGTERM, ckpt, 120)
    assert now.exit_code == 143
    assert str(now) == f"interrupted by SIGTERM at step 120: step 120 is saved in {ckpt}; continue with: gankit resume {run}"
    earlier = Interrupted(run, 130, signal.SIGINT, ckpt, 100)
    assert earlier.exit_code == 130 and "the last checkpoint (step 100) is kept" in str(earlier)
    never = Interrupted(run, 7, signal.SIGINT, ckpt, None)
    assert "cannot be resumed" in str(never) and "gankit resume" not in str(never)
