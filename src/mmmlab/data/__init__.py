"""Data model and readers: `Dataset` (time × geo × channel) and the file readers that build it."""

from mmmlab.data.columns import ColumnMap
from mmmlab.data.conjura import read_conjura
from mmmlab.data.dataset import Dataset, DatasetError, Split, infer_frequency
from mmmlab.data.mff import MffMap, read_mff
from mmmlab.data.readers import dataset_from_frame, read_dataset
from mmmlab.data.validation import DataFileError

__all__ = [
    "ColumnMap",
    "DataFileError",
    "Dataset",
    "DatasetError",
    "MffMap",
    "Split",
    "dataset_from_frame",
    "infer_frequency",
    "read_conjura",
    "read_dataset",
    "read_mff",
]
