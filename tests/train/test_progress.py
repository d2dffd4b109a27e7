import logging

from gankit.train.progress import Progress


def test_lines_name_what_they_count(caplog):
    with caplog.at_level(logging.INFO, logger="gankit"):
        Progress("lines", 0, 4, "training").report(2, {"loss": 0.5})
        Progress("lines", 0, 8, "fitting", unit="DRS estimator step").report(8, {"estimator_loss": 0.25})
    first, second = (r.getMessage() for r in caplog.records)
    assert first.startswith("step 2/4 loss=0.5 |") and "ETA" in first
    assert second.startswith("DRS estimator step 8/8 estimator_loss=0.25 |") and second.endswith("ETA 0:00:00")


def test_none_mode_is_silent(caplog):
    with caplog.at_level(logging.INFO, logger="gankit"):
        progress = Progress("none", 0, 4, "quiet")
        progress.report(4, {"loss": 1.0})
        progress.close()
    assert caplog.records == []
