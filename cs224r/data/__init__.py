"""Offline datasets: one ``Dataset`` type and the loaders that build it."""

from cs224r.data.dataset import Dataset, DatasetError
from cs224r.data.loading import check_fits_env, load_dataset

__all__ = ["Dataset", "DatasetError", "check_fits_env", "load_dataset"]
