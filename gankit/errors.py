"""The one exception type for foreseeable user errors."""


class GankitError(Exception):
    """A user error: bad config, data, path or checkpoint.

    The message says what is wrong and what to do. The command line prints it as
    ``error: <message>`` and exits with status 2, without a traceback.
    """


class TrainingDiverged(GankitError):
    """A loss or a weight became non-finite; the last good checkpoint was kept."""
