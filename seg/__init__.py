"""segboard's library: datasets, DataLoaders, training, inference and measurements. No Streamlit here."""

from seg.data.codes import Codes
from seg.data.dataset import Dataset
from seg.data.discovery import Pair
from seg.data.report import Problem, Report

__all__ = ["Codes", "Dataset", "Pair", "Problem", "Report"]
__version__ = "0.1.0"
