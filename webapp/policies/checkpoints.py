"""Open a checkpoint's bytes with shaping_core's own reader.

Everything goes through `read_checkpoint` and `load_policy`, so every checkpoint kind shaping_core
knows (now and later) is validated and loaded on one code path, with `torch.load(weights_only=True)`
only: opening an uploaded file never runs code from it. Both take a path, so the bytes go through a
temporary file; that happens once per checkpoint and process (selectors.py caches the policy).
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from shaping_core.games import TurnOrder
from shaping_core.policies.base import Policy, PolicyParamsError
from shaping_core.policies.checkpoint import load_policy, read_checkpoint


class CheckpointError(ValueError):
    """The bytes are not a policy checkpoint that loads; the message says why."""


@dataclass(frozen=True)
class OpenedCheckpoint:
    spec: dict[str, Any]  # what read_checkpoint returns
    policy: Policy
    sha256: str


def open_checkpoint(data: bytes) -> OpenedCheckpoint:
    """Read, load and try out the checkpoint in `data`; raises CheckpointError."""
    if not data:
        raise CheckpointError("the file is empty")
    with tempfile.TemporaryDirectory(prefix="shaping-lab-policy-") as directory:
        path = Path(directory) / "checkpoint.pt"
        path.write_bytes(data)
        try:
            spec = read_checkpoint(path)
        except PolicyParamsError as error:  # a dict, but not a checkpoint of a known kind
            raise CheckpointError(str(error).replace(str(path), "the file")) from None
        except Exception as error:  # torch.load failed: not a .pt file, or one that needs code to open
            raise CheckpointError(f"the file is not a policy checkpoint: torch.load(weights_only=True) "
                                  f"cannot read it ({_first_line(error)})") from None
        try:
            policy = load_policy(path)
            _try_out(policy)
        except Exception as error:
            raise CheckpointError(f"the {spec.get('kind')} checkpoint does not load: {_first_line(error)}") from None
    return OpenedCheckpoint(spec=spec, policy=policy, sha256=hashlib.sha256(data).hexdigest())


def _try_out(policy: Policy) -> None:
    """One decision on the game's first trial, so weights that do not fit the game fail here and not
    in front of a participant."""
    game = policy.game
    state = game.init(1)
    participant_first = game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST
    observation = game.observe(state, torch.zeros(1, dtype=torch.long) if participant_first else None)
    probs, _ = policy.act(observation, policy.reset(1))
    if tuple(probs.shape) != (1, policy.n_actions) or not torch.isfinite(probs).all():
        raise CheckpointError(f"its first decision is not {policy.n_actions} finite probabilities")


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def jsonable(value: Any) -> Any:
    """A copy of checkpoint metadata that a JSONField stores on every backend: tensors and tuples
    become lists, non-finite floats become strings (PostgreSQL's jsonb has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return jsonable(value.tolist())
    return str(value)
