"""Save a trained policy to a .pt file and load it back behind the common policy interface.

A checkpoint is one plain dict (loadable with `torch.load(weights_only=True)`, so opening one never
runs code):

    {"format": 1,
     "kind": "ipd_one_step_memory" | "gru",     # the policy class
     "game": "ipd", "game_params": {...},       # the game it was trained for
     "policy_params": {...},                    # the class's Params (e.g. the five P(C) values)
     "settings": {...},                         # the training settings
     "state_dict": {...},                       # the network's tensors
     "provenance": {...}, "metrics": {...}}     # how it was made and how it did

`load_policy(path)` rebuilds the game and the policy, ready for `reset` / `act`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..games import make_game
from .base import Policy, PolicyParamsError
from .gru import GRUNet, GRUPolicy
from .tabular import TabularIPDPolicy

FORMAT = 1
CHECKPOINT_KINDS: dict[str, type[Policy]] = {cls.name: cls for cls in (TabularIPDPolicy, GRUPolicy)}


def checkpoint_spec(policy: Policy, *, settings: dict[str, Any] | None = None,
                    provenance: dict[str, Any] | None = None,
                    metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    if policy.name not in CHECKPOINT_KINDS:
        raise PolicyParamsError(f"{policy.label} has no trained weights to save")
    policy_params = policy.params.to_mapping()
    if isinstance(policy, TabularIPDPolicy):  # keep the readable parameters in step with the weights
        policy_params["p_cooperate"] = policy.net.p_cooperate().tolist()
    extra = {}
    if isinstance(policy, GRUPolicy):
        extra = {"n_features": policy.net.encoder[0].in_features, "n_outputs": policy.net.head.out_features}
    return {
        "format": FORMAT,
        "kind": policy.name,
        "game": policy.game.spec.name,
        "game_params": policy.game.params.to_mapping(),
        "policy_params": policy_params,
        "net": extra,
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
    spec = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise PolicyParamsError(f"{path} is not a policy checkpoint (format {FORMAT})")
    if spec.get("kind") not in CHECKPOINT_KINDS:
        raise PolicyParamsError(f"{path}: unknown policy kind {spec.get('kind')!r}")
    return spec


def load_policy(path: str | Path, device: torch.device | str = "cpu") -> Policy:
    """The policy stored at `path`, on `device`, behind the common interface."""
    spec = read_checkpoint(path)
    game = make_game(spec["game"], spec["game_params"])
    cls = CHECKPOINT_KINDS[spec["kind"]]
    if cls is GRUPolicy:
        net = GRUNet(spec["net"]["n_features"], spec["net"]["n_outputs"],
                     spec["policy_params"].get("hidden_size", 32))
        policy = GRUPolicy(game, spec["policy_params"], net=net)
    else:
        policy = cls(game, spec["policy_params"])
    policy.net.load_state_dict(spec["state_dict"])
    policy.net.to(device)
    return policy
