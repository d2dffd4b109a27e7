"""gankit: generative adversarial networks, trained, resumed, sampled and evaluated with one command each."""

from gankit.errors import GankitError

__version__ = "0.1.0"

__all__ = ["GankitError", "__version__"]
