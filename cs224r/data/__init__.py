"""Offline datasets: one ``Dataset`` type and the loaders that build it."""

from cs224r.data.dataset import Dataset, DatasetError
from cs224r.data.loading import apply_reward_convention, check_fits_env, check_flavour

__all__ = ["Dataset", "DatasetError", "apply_reward_convention", "check_fits_env", "check_flavour"]
