"""Registering policy checkpoints (DESIGN.md, principle 7: writes here, one transaction each).

`policy_register` is the only way a checkpoint gets in: it opens the bytes with shaping_core's
reader first, so a file that does not load is never registered. The admin upload, the
`register_policy` command and the shipped defaults (`policy_register_defaults`, used by
`register_default_policies` and `seed_demo`) all go through it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from shaping_core.games import GAMES
from webapp.studies.selectors import policy_conditions

from .checkpoints import CheckpointError, OpenedCheckpoint, jsonable, open_checkpoint
from .models import RegisteredPolicy
from .selectors import registered_policy_get

# A GRU policy's checkpoint has tens of kB, a fitted-Q plan's about 10 MB (two plans of the bandit
# fit); a file larger than this is almost certainly the wrong one (or a data set).
MAX_CHECKPOINT_BYTES = 20 * 1024 * 1024
_NAME_PATTERN = re.compile(r"^[-a-zA-Z0-9_]+$")
_NAME_LENGTH = RegisteredPolicy._meta.get_field("name").max_length


class PolicyRegistrationError(ValueError):
    """The checkpoint cannot be registered under that name; the message says why."""


def policy_register(*, name: str, data: bytes, description: str = "",
                    created_by: AbstractBaseUser | None = None, replace: bool = False) -> RegisteredPolicy:
    """Register the checkpoint in `data` as `name` (served to conditions as `policy:<name>`).

    With replace=True an existing policy of that name is overwritten, unless participants have
    already played it: their trials must stay replayable with the exact checkpoint they met.
    """
    return _register(name=name, data=data, description=description, created_by=created_by, replace=replace)


def policy_registration_check(*, name: str, data: bytes, replace: bool = False) -> None:
    """Raise the PolicyRegistrationError that policy_register would, without writing anything
    (the admin's upload form shows it beside the fields)."""
    _check_name(name)
    _open(data)
    _check_name_free(name, registered_policy_get(name=name), replace)


def policy_update(*, policy: RegisteredPolicy, description: str) -> RegisteredPolicy:
    """Change what researchers read about a policy; its checkpoint never changes after registration."""
    with transaction.atomic():
        policy.description = description
        policy.save(update_fields=["description"])
    return policy


def policy_delete(*, policy: RegisteredPolicy) -> None:
    """Delete a policy that no condition plays (a condition naming it could no longer start or replay)."""
    with transaction.atomic():
        users = [str(c) for c in policy_conditions(name=policy.name)]
        if users:
            raise PolicyRegistrationError(f"policy {policy.name!r} is the adversary of condition(s) "
                                          f"{', '.join(users)}: it cannot be deleted")
        policy.delete()


def _register(*, name: str, data: bytes, description: str, created_by, replace: bool,
              expected_game: str | None = None, default_objective: str = "") -> RegisteredPolicy:
    _check_name(name)
    checkpoint = _open(data)  # outside the transaction: loading takes a moment and writes nothing
    spec = checkpoint.spec
    if expected_game is not None and spec["game"] != expected_game:
        raise PolicyRegistrationError(f"the checkpoint is for {spec['game']}, not {expected_game}")
    try:
        with transaction.atomic():
            existing = RegisteredPolicy.objects.select_for_update().filter(name=name).first()
            _check_name_free(name, existing, replace)
            policy = existing or RegisteredPolicy(name=name)
            policy.game = spec["game"]
            policy.kind = spec["kind"]
            policy.objective = _objective(spec) or default_objective
            policy.description = description
            policy.checkpoint = data
            policy.sha256 = checkpoint.sha256
            policy.size = len(data)
            # The policy's own game: the parameters with every default filled in, as studies store them.
            policy.game_params = jsonable(checkpoint.policy.game.params.to_mapping())
            policy.provenance = jsonable(spec.get("provenance") or {})
            policy.metrics = jsonable(spec.get("metrics") or {})
            policy.created_by = created_by
            if existing is not None:
                policy.created_at = timezone.now()  # when this checkpoint was registered
            policy.save()
    except IntegrityError:  # registered by someone else between the check and the insert
        raise PolicyRegistrationError(f"a policy named {name!r} is already registered") from None
    return policy


def _check_name(name: str) -> None:
    if not name or not _NAME_PATTERN.match(name):
        raise PolicyRegistrationError(f"bad name {name!r}: use letters, digits, '-' and '_' only "
                                      f"(it is written policy:NAME in a condition)")
    if len(name) > _NAME_LENGTH:
        raise PolicyRegistrationError(f"bad name {name!r}: at most {_NAME_LENGTH} characters")


def _open(data: bytes) -> OpenedCheckpoint:
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise PolicyRegistrationError(too_large(len(data)))
    try:
        return open_checkpoint(data)
    except CheckpointError as error:
        raise PolicyRegistrationError(str(error)) from None


def too_large(size: int) -> str:
    """Why a file of `size` bytes is refused as a checkpoint."""
    return (f"the file has {size / 2**20:.1f} MB; a policy checkpoint has at most "
            f"{MAX_CHECKPOINT_BYTES // 2**20} MB (a GRU policy's has tens of kB, a fitted-Q plan's about "
            f"10 MB): is it the right file?")


def _check_name_free(name: str, existing: RegisteredPolicy | None, replace: bool) -> None:
    if existing is None:
        return
    if not replace:
        raise PolicyRegistrationError(
            f"a policy named {name!r} is already registered ({existing.kind} for {existing.game}, "
            f"sha256 {existing.sha256[:12]}): choose another name, or replace it")
    played = [str(c) for c in policy_conditions(name=name, with_participants=True)]
    if played:
        raise PolicyRegistrationError(
            f"policy {name!r} cannot be replaced: participants have played it in condition(s) "
            f"{', '.join(played)}; register the new checkpoint under another name")


def _objective(spec: dict) -> str:
    for section in ("provenance", "settings"):
        value = (spec.get(section) or {}).get("objective")
        if value:
            return str(value)[:100]
    return ""


# ---- The checkpoints shipped with the repository ------------------------------------------------

@dataclass(frozen=True)
class DefaultPolicyResult:
    path: Path
    name: str  # default-<game>-<objective>
    game: str
    objective: str
    outcome: str  # "registered", "replaced", "unchanged" or "skipped"
    message: str = ""  # why it was skipped
    policy: RegisteredPolicy | None = None

    def summary(self) -> str:
        line = f"{self.name}: {self.outcome}"
        if self.policy is not None:
            line += f" (sha256 {self.policy.sha256[:12]})"
        return f"{line}: {self.message}" if self.message else line


def default_policies_dir() -> Path:
    """Where the shipped checkpoints lie: settings.SHAPING_LAB_DEFAULT_POLICIES_DIR, else
    shaping_core/checkpoints/defaults/."""
    configured = getattr(settings, "SHAPING_LAB_DEFAULT_POLICIES_DIR", None)
    return Path(configured) if configured else Path(settings.BASE_DIR) / "shaping_core" / "checkpoints" / "defaults"


def policy_register_defaults(*, directory: Path | None = None,
                             created_by: AbstractBaseUser | None = None) -> list[DefaultPolicyResult]:
    """Register every `<game>-<objective>.pt` in the defaults folder as `default-<game>-<objective>`.

    Idempotent: a file already registered with the same sha256 is left alone; a changed file
    replaces the registered one unless participants played it (then it is skipped, with the reason).
    A missing or empty folder registers nothing.
    """
    directory = Path(directory) if directory is not None else default_policies_dir()
    if not directory.is_dir():
        return []
    return [_register_default(path, created_by) for path in sorted(directory.glob("*.pt"))]


def _register_default(path: Path, created_by) -> DefaultPolicyResult:
    game, _, objective = path.stem.partition("-")
    name = f"default-{path.stem}"
    result = dict(path=path, name=name, game=game, objective=objective)
    if game not in GAMES or not objective:
        return DefaultPolicyResult(**result, outcome="skipped",
                                   message=f"not named <game>-<objective>.pt with a game of {', '.join(GAMES)}")
    data = path.read_bytes()
    existing = registered_policy_get(name=name)
    if existing is not None and existing.sha256 == hashlib.sha256(data).hexdigest():
        return DefaultPolicyResult(**result, outcome="unchanged", policy=existing)
    try:
        policy = _register(name=name, data=data, description=f"Default checkpoint {path.name} shipped with Shaping Lab.",
                           created_by=created_by, replace=existing is not None, expected_game=game,
                           default_objective=objective)
    except PolicyRegistrationError as error:
        return DefaultPolicyResult(**result, outcome="skipped", message=str(error))
    return DefaultPolicyResult(**result, outcome="replaced" if existing else "registered", policy=policy)
