"""The output folder of a training or fitting run: one writer for every trainer.

Every run writes config.json (its settings and seeds, with the environment it ran in added under
"environment"), metrics.json, and its figures, into one folder:

    run = RunDir(out, device)
    run.write_config({"settings": ..., "seed": ...})
    ...
    run.write_metrics(metrics)
    plot(..., run.path("learning_curve.png"))
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch


def environment(device: torch.device | str) -> dict[str, Any]:
    """What a run's numbers depend on beyond its settings."""
    return {"torch": str(torch.__version__), "python": platform.python_version(), "device": str(device),
            "threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}


class RunDir:
    def __init__(self, folder: str | Path, device: torch.device | str = "cpu"):
        self.folder, self.device = Path(folder), device
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        """Where a file of the run (a figure, a table) goes."""
        return self.folder / name

    def write_config(self, config: dict[str, Any]) -> Path:
        return self._write("config.json", {**config, "environment": environment(self.device)})

    def write_metrics(self, metrics: dict[str, Any]) -> Path:
        return self._write("metrics.json", metrics)

    def _write(self, name: str, content: dict[str, Any]) -> Path:
        path = self.path(name)
        path.write_text(json.dumps(content, indent=2) + "\n")
        return path
