"""Data model and readers: `Dataset` (time × geo × channel) and the file readers that build it."""

from mmmlab.data.dataset import Dataset, DatasetError, Split, infer_frequency

__all__ = ["Dataset", "DatasetError", "Split", "infer_frequency"]
