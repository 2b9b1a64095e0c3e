"""Reads on registered policies, and serving one to a study condition (DESIGN.md, principle 7).

A loaded Policy is cached in process memory by the checkpoint's sha256: a policy holds no
per-participant state (the recurrent state goes in and out of `act`), so one loaded copy serves
every participant of every condition that plays it, and a worker reads and loads the bytes once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from shaping_core.games import Game, make_game
from shaping_core.params import ParamsError
from shaping_core.policies.base import Policy, PolicyParamsError

from .checkpoints import CheckpointError, open_checkpoint
from .models import ADVERSARY_PREFIX, RegisteredPolicy

# Enough for every policy a deployment serves at once; replaced checkpoints age out.
_CACHE_SIZE = 32
_cache: OrderedDict[str, Policy] = OrderedDict()
_cache_lock = threading.Lock()


def registered_policy_name(adversary: str) -> str | None:
    """The registered policy's name when a condition's adversary is `policy:<name>`, else None."""
    if adversary.startswith(ADVERSARY_PREFIX):
        return adversary[len(ADVERSARY_PREFIX):]
    return None


def registered_policy_get(*, name: str) -> RegisteredPolicy | None:
    """The registered policy without its bytes (they are only read to load it)."""
    return RegisteredPolicy.objects.defer("checkpoint").filter(name=name).first()


def registered_policies_for(*, game: str, game_params: dict[str, Any] | None = None) -> list[RegisteredPolicy]:
    """Registered policies that can serve `game`; with `game_params`, only those trained for them."""
    candidates = RegisteredPolicy.objects.defer("checkpoint").filter(game=game).order_by("name")
    if game_params is None:
        return list(candidates)
    try:
        study_game = make_game(game, game_params)
    except ParamsError:  # the study's own validation reports its parameters
        return list(candidates)
    return [policy for policy in candidates if registered_policy_fit_error(policy, study_game) is None]


def registered_policy_fit_error(policy: RegisteredPolicy, game: Game) -> str | None:
    """Why `policy` cannot serve `game` (another game, or other parameters), or None when it can.

    Parameters are compared with every default filled in on both sides: a checkpoint trained for 100
    bandit trials must not serve a 50-trial study.
    """
    if policy.game != game.spec.name:
        return f"policy {policy.name!r} plays {policy.game}, not {game.spec.name}"
    wanted = game.params.to_mapping()
    try:
        trained = make_game(policy.game, policy.game_params).params.to_mapping()
    except ParamsError as error:  # the game's parameters changed since the checkpoint was trained
        return f"policy {policy.name!r} was trained for game parameters this version rejects: {error}"
    if trained != wanted:
        differences = ", ".join(f"{key} {trained.get(key)!r} (this study: {wanted.get(key)!r})"
                                for key in sorted(set(trained) | set(wanted)) if trained.get(key) != wanted.get(key))
        return (f"policy {policy.name!r} was trained for other {policy.game} parameters: {differences}; "
                f"register a checkpoint trained for this study's parameters")
    return None


def registered_policy_load(name: str, *, game: Game | None = None) -> Policy:
    """The registered policy `name`, loaded (cached by sha256), ready for reset/act.

    With `game`, checks first that the policy was trained for exactly that game. Raises
    PolicyParamsError with a readable message, like shaping_core's make_policy.
    """
    policy = registered_policy_get(name=name)
    if policy is None:
        raise PolicyParamsError(f"no registered policy named {name!r} (see Policies › Registered policies)")
    if game is not None and (error := registered_policy_fit_error(policy, game)):
        raise PolicyParamsError(error)
    with _cache_lock:
        if policy.sha256 in _cache:
            _cache.move_to_end(policy.sha256)
            return _cache[policy.sha256]
    # Read by sha256, not name: if the name was re-registered since, this still loads what was checked.
    data = (RegisteredPolicy.objects.filter(name=name, sha256=policy.sha256)
            .values_list("checkpoint", flat=True).first())
    if data is None:
        raise PolicyParamsError(f"registered policy {name!r} changed while loading; please retry")
    try:
        loaded = open_checkpoint(bytes(data)).policy  # PostgreSQL gives a memoryview
    except CheckpointError as error:  # validated at registration, so only a damaged row gets here
        raise PolicyParamsError(f"registered policy {name!r} no longer loads: {error}") from None
    with _cache_lock:
        _cache[policy.sha256] = loaded
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return loaded
