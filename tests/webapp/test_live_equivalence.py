"""The live server plays the same trials as the batched simulator (shaping_core.simulation).

Participants play a recurrent shaping adversary through the services the websocket runs
(`play_start`, then `trial_submit` with the cached game, as the consumer does). Their recorded
choices are then played through `play_episodes`, all participants in one batch, with each
participant's episode length and seed: every adversary action, probability and reward must be the
same. And the adversary's policy runs once per live trial, counted at the policy itself.
"""

import random

import pytest
import torch

from helpers import SMALL_PARAMS, make_player, make_study, random_surrogate
from shaping_core.games import make_game
from shaping_core.participants import ParticipantModel
from shaping_core.policies.checkpoint import load_policy, save_policy
from shaping_core.policies.shaping import ShapingAdversary
from shaping_core.simulation import play_episodes
from webapp.play import services
from webapp.play.models import Trial
from webapp.policies.services import policy_register

pytestmark = pytest.mark.django_db

PARAMS = {**SMALL_PARAMS, "gonogo": {"trials": 12, "nogo_trials": 6}}
PARTICIPANTS = 3


class RecordedChoices(ParticipantModel):
    """Makes the choices it is given, trial by trial: people's recorded choices, as a model."""

    name = label = "recorded choices"
    games = tuple(SMALL_PARAMS)

    def __init__(self, game, actions: torch.Tensor):
        super().__init__(game)
        self.actions = actions  # [B, T] long

    def reset(self, batch_size, *, generator=None, device="cpu"):
        return None

    def act(self, view, state):
        trial = view.trial.clamp(max=self.actions.shape[1] - 1)
        chosen = self.actions.gather(1, trial[:, None]).squeeze(1)
        return torch.nn.functional.one_hot(chosen, self.n_actions).float(), state


def adversary_checkpoint(tmp_path, game):
    policy = ShapingAdversary(game, {"hidden_size": 6}, surrogate=random_surrogate(game, seed=3))
    with torch.no_grad():  # weights three times the init: probabilities that vary between trials
        for parameter in policy.net.parameters():
            parameter.mul_(3)
    return save_policy(tmp_path / f"{game.spec.name}.pt", policy, provenance={"objective": "max", "command": "test"})


def play_live(participant, game, rng) -> None:
    """Play the whole game as the websocket consumer does, keeping the game between moves."""
    live = services.play_start(participant=participant)
    n_actions = len(game.spec.participant_actions)
    while not live.done:
        submission = services.trial_submit(participant=participant, live=live, trial_index=live.trial_index,
                                           action=rng.randrange(n_actions), reaction_time_ms=300.0)
        assert not submission.duplicate
        live = submission.live


@pytest.mark.parametrize("game_name", list(PARAMS))
def test_live_trials_equal_the_batched_simulators(tmp_path, monkeypatch, game_name):
    game = make_game(game_name, PARAMS[game_name])
    path = adversary_checkpoint(tmp_path, game)
    policy_register(name=f"shaping-{game_name}", data=path.read_bytes())
    study = make_study(game_name, params=PARAMS[game_name],
                       conditions=[("shaping", f"policy:shaping-{game_name}", {}, 1)])

    calls = []
    act_with_features = ShapingAdversary.act_with_features

    def counted(self, observation, state):
        calls.append(tuple(observation.trial.tolist()))
        return act_with_features(self, observation, state)

    monkeypatch.setattr(ShapingAdversary, "act_with_features", counted)
    rng = random.Random(game_name)
    participants = [make_player(study) for _ in range(PARTICIPANTS)]
    for participant in participants:
        calls.clear()
        play_live(participant, game, rng)
        # Once per trial: the decision made when the trial was opened (or the choice came, in
        # participant-first games) is the one played.
        assert calls == [(t,) for t in range(participant.episode_length)]
    monkeypatch.undo()

    trials = [list(Trial.objects.filter(participant=p, practice=False).order_by("index")) for p in participants]
    length = max(len(t) for t in trials)

    def table(field, fill):
        return torch.tensor([[getattr(t, field) for t in rows] + [fill] * (length - len(rows)) for rows in trials])

    participant_actions = table("participant_action", 0)
    simulated = play_episodes(game, RecordedChoices(game, participant_actions), load_policy(path), PARTICIPANTS,
                              lengths=torch.tensor([p.episode_length for p in participants]),
                              adversary_seeds=[p.seed for p in participants])

    active = simulated.active
    assert active.sum(dim=1).tolist() == [len(rows) for rows in trials]
    assert torch.equal(simulated.participant_actions[active], participant_actions[active])
    assert torch.equal(simulated.adversary_actions[active], table("adversary_action", 0)[active])
    assert torch.equal(simulated.participant_rewards[active], table("participant_reward", 0.0).float()[active])
    assert torch.equal(simulated.adversary_rewards[active], table("adversary_reward", 0.0).float()[active])
    stored = torch.tensor([[t.adversary_probs[t.adversary_action] for t in rows] + [1.0] * (length - len(rows))
                           for rows in trials])
    assert torch.allclose(simulated.adversary_log_probs.exp()[active], stored[active], atol=2e-6)
    # The adversary did choose: its draws are not forced by the rules on every trial.
    assert bool((stored[active] < 0.999).any())
