"""Trial data: reading the platform's export and public datasets into one schema (docs/data.md),
and padding participants' trials into sequences for the surrogate."""

from .readers import DATA_FORMATS, DataFormatError, load_sequences, participant_column, read_trials
from .sequences import TrialSequences, sequences_from_frame

__all__ = [
    "DATA_FORMATS", "DataFormatError", "TrialSequences", "load_sequences", "participant_column", "read_trials",
    "sequences_from_frame",
]
