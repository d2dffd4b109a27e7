"""Samplers other than plain decoding of latents (discriminator rejection sampling)."""
from gankit.samplers.drs import check_sampler, drs_samples

__all__ = ["check_sampler", "drs_samples"]
