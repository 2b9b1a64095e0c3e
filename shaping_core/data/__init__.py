"""Trial data: reading the platform's export and public datasets into one schema (docs/data.md),
and padding participants' trials into sequences for the surrogate."""

from .sequences import TrialSequences, sequences_from_frame

__all__ = ["TrialSequences", "sequences_from_frame"]
