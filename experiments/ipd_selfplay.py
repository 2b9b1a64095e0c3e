"""IPD selfplay (Duque et al., 2025): the same as `python -m shaping_core ipd-selfplay`.

    python experiments/ipd_selfplay.py --help

The experiment itself lives in shaping_core/ipd_training.py so that the CLI, these scripts and the
tests share one implementation.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaping_core.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["ipd-selfplay", *sys.argv[1:]]))
