"""Saving and loading a fitted human surrogate.

A surrogate checkpoint is one plain dict, loadable with `torch.load(weights_only=True)` (opening
a file never runs code from it):

    {"format": 1, "kind": "surrogate",
     "game": "bandit", "game_params": {...},     # the game it was fitted for, defaults filled in
     "hidden_size": 8,                           # chosen by cross-validation
     "reads_context": False,                     # whether it reads Game.participant_context
     #                                             (absent in checkpoints written before it: False)
     "state_dict": {...},                        # SurrogateNet's tensors
     "provenance": {...},                        # the data: path, format, sha256, rows, participants
     "selection": {...},                         # how size and epochs were chosen (the CV table)
     "metrics": {...},                           # held-out metrics (nll_per_choice, accuracy, ...)
     "settings": {...}}                          # SurrogateSettings used
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..games import Game, make_game
from ..policies.checkpoint import first_line
from .model import SurrogateNet

FORMAT = 1
KIND = "surrogate"


class SurrogateCheckpointError(ValueError):
    """A file is not a surrogate checkpoint."""


@dataclass
class LoadedSurrogate:
    game: Game
    net: SurrogateNet
    spec: dict[str, Any]  # the whole checkpoint dict, for its provenance and metrics


def save_surrogate(path: str | Path, net: SurrogateNet, game: Game, **info: Any) -> Path:
    """Write `net` (fitted for `game`) with optional provenance/selection/metrics/settings dicts."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = {"format": FORMAT, "kind": KIND, "game": game.spec.name,
            "game_params": game.params.to_mapping(), **net.shape(),
            "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            **{key: dict(value or {}) for key, value in info.items()}}
    torch.save(spec, path)
    return path


def load_surrogate(path: str | Path, device: torch.device | str = "cpu") -> LoadedSurrogate:
    """The surrogate stored at `path`, in eval mode on `device`."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateCheckpointError(f"{path}: no such file")
    try:
        spec = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for files it cannot read
        raise SurrogateCheckpointError(f"{path} is not a surrogate checkpoint: torch.load(weights_only=True) "
                                       f"cannot read it ({first_line(error)})") from None
    if not isinstance(spec, dict) or spec.get("kind") != KIND or spec.get("format") != FORMAT:
        raise SurrogateCheckpointError(f"{path} is not a surrogate checkpoint (format {FORMAT}); "
                                       "fit one with `python -m shaping_core fit-surrogate`")
    game = make_game(spec["game"], spec["game_params"])
    net = SurrogateNet(game, spec["hidden_size"], spec.get("reads_context", False))
    net.load_state_dict(spec["state_dict"])
    return LoadedSurrogate(game, net.to(device).eval(), spec)
