"""segboard's library: datasets, DataLoaders, training, inference and measurements. No Streamlit here."""

from .codes import Codes
from .dataset import Dataset
from .discovery import Pair
from .report import Problem, Report

__all__ = ["Codes", "Dataset", "Pair", "Problem", "Report"]
__version__ = "0.1.0"
