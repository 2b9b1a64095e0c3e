"""Save a trained policy to a .pt file and load it back behind the common policy interface.

A checkpoint is one plain dict (loadable with `torch.load(weights_only=True)`, so opening one never
runs code):

    {"format": 1,
     "kind": "ipd_one_step_memory" | "gru" | "shaping" | "shaping_q",   # the policy class
     "game": "ipd", "game_params": {...},       # the game it was trained for
     "policy_params": {...},                    # the class's Params (e.g. the five P(C) values)
     "net": {...},                              # the network's shape, for classes that need it
                                                # (fitted Q: with "plans" for a mean of several)
     "surrogate": {...},                        # a shaping adversary's human surrogate
     "settings": {...},                         # the training settings
     "state_dict": {...},                       # the trained network's tensors
     "provenance": {...}, "metrics": {...}}     # how it was made and how it did

Each checkpointable policy class says what it adds (`checkpoint_fields`) and how it is rebuilt
(`from_checkpoint`); `load_policy(path)` rebuilds the game and the policy, ready for `reset` / `act`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..games import make_game
from .base import Policy, PolicyParamsError
from .gru import GRUPolicy
from .shaping import ShapingAdversary
from .shaping_q import QShapingAdversary
from .tabular import TabularIPDPolicy

FORMAT = 1
CHECKPOINT_KINDS: dict[str, type[Policy]] = {
    cls.name: cls for cls in (TabularIPDPolicy, GRUPolicy, ShapingAdversary, QShapingAdversary)}


def checkpoint_spec(policy: Policy, *, settings: dict[str, Any] | None = None,
                    provenance: dict[str, Any] | None = None,
                    metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    if policy.name not in CHECKPOINT_KINDS:
        raise PolicyParamsError(f"{policy.label} has no trained weights to save")
    return {
        "format": FORMAT,
        "kind": policy.name,
        "game": policy.game.spec.name,
        "game_params": policy.game.params.to_mapping(),
        **policy.checkpoint_fields(),
        "settings": dict(settings or {}),
        "state_dict": {k: v.detach().cpu() for k, v in policy.net.state_dict().items()},
        "provenance": dict(provenance or {}),
        "metrics": dict(metrics or {}),
    }


def save_policy(path: str | Path, policy: Policy, **info: Any) -> Path:
    """Write `policy` (with optional settings/provenance/metrics dicts) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint_spec(policy, **info), path)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    try:
        spec = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # torch raises several types for files it cannot read
        raise PolicyParamsError(f"{path} is not a policy checkpoint: torch.load(weights_only=True) "
                                f"cannot read it ({first_line(error)})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise PolicyParamsError(f"{path} is not a policy checkpoint (format {FORMAT})")
    if spec.get("kind") not in CHECKPOINT_KINDS:
        raise PolicyParamsError(f"{path}: unknown policy kind {spec.get('kind')!r}")
    return spec


def first_line(error: BaseException) -> str:
    """`Type: first line of the message`: torch's load errors run to many lines."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def load_policy(path: str | Path, device: torch.device | str = "cpu") -> Policy:
    """The policy stored at `path`, on `device`, behind the common interface."""
    spec = read_checkpoint(path)
    game = make_game(spec["game"], spec["game_params"])
    try:
        policy = CHECKPOINT_KINDS[spec["kind"]].from_checkpoint(game, spec)
        policy.net.load_state_dict(spec["state_dict"])
    except (KeyError, TypeError, RuntimeError) as error:  # missing fields, mismatched tensors
        raise PolicyParamsError(f"{path}: the checkpoint's network does not load "
                                f"({first_line(error)})") from None
    policy.net.to(device)
    return policy
