"""The human IPD surrogate's parts: the participant context a game declares, a surrogate that
reads it (and so tells payoff matrices apart), the memory-one baseline and leave-one-study-out."""

import math

import pytest
import torch

from shaping_core.data.sequences import TrialSequences
from shaping_core.games import make_game
from shaping_core.games.ipd import CONTEXT_FEATURES, situation_features
from shaping_core.policies.checkpoint import load_policy, save_policy
from shaping_core.policies.shaping import ShapingAdversary
from shaping_core.simulation import play_episodes
from shaping_core.surrogate.checkpoint import load_surrogate, save_surrogate
from shaping_core.surrogate.fit import (SurrogateSettings, constant_nll, leave_one_group_out,
                                        memory_one_nll, train_surrogate)
from shaping_core.surrogate.model import SurrogateNet, SurrogateParticipant
from shaping_core.policies import make_policy


def test_the_ipd_declares_its_payoffs_and_horizon_as_the_participant_context():
    game = make_game("ipd", {"rounds": 4})
    assert game.spec.participant_context == CONTEXT_FEATURES
    context = game.participant_context(torch.arange(4))
    # R, S, T, P = 3, 0, 5, 1: shares of T - S; 3, 2, 1, 0 rounds ahead; the last one announced.
    assert context[:, 0].tolist() == pytest.approx([0.6] * 4)
    assert context[:, 1].tolist() == pytest.approx([0.2] * 4)
    assert context[:, 2].tolist() == [1.0] * 4
    assert context[:, 3].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert context[:, 4].tolist() == pytest.approx([math.log1p(k) for k in (3, 2, 1, 0)])
    indefinite = make_game("ipd", {"continuation_probability": 0.75})
    assert indefinite.participant_context(torch.zeros(1, dtype=torch.long))[0, 2:5].tolist() == \
        pytest.approx([0.0, 0.0, math.log1p(3.0)])
    # Scaling and shifting the payoffs leaves the shares as they are.
    shifted = make_game("ipd", {"reward": 16, "sucker": 10, "temptation": 20, "punishment": 12})
    assert shifted.participant_context(torch.zeros(1, dtype=torch.long))[0, :2].tolist() == \
        pytest.approx([0.6, 0.2])
    assert make_game("bandit").participant_context(torch.zeros(1)) is None


def _games(n_per_matrix: int, shares: tuple[float, ...], seed: int = 0) -> TrialSequences:
    """Made-up IPD games, 4 rounds each: people cooperate with probability 0.9 when mutual
    cooperation pays a high share of the temptation (above 0.7), else with 0.1."""
    game = make_game("ipd", {"rounds": 4})
    generator = torch.Generator().manual_seed(seed)
    contexts, actions = [], []
    for share in shares:
        context = situation_features(reward=share, sucker=0.0, temptation=1.0, punishment=0.1,
                                     rounds_ahead=torch.arange(3, -1, -1).float(),
                                     known_length=True, error_rate=0.0)
        contexts.append(context.expand(n_per_matrix, 4, len(CONTEXT_FEATURES)))
        p_cooperate = 0.9 if share > 0.7 else 0.1
        actions.append((torch.rand(n_per_matrix, 4, generator=generator) > p_cooperate).long())
    actions = torch.cat(actions)
    partner = (torch.rand(actions.shape, generator=generator) < 0.5).long()
    rewards = game.payoff_matrix()[actions, partner][..., 0]
    return TrialSequences(game, actions, rewards, partner, [str(i) for i in range(len(actions))],
                          context=torch.cat(contexts).contiguous())


@torch.no_grad()
def _p_first_cooperate(net: SurrogateNet, game, share: float) -> float:
    context = situation_features(reward=share, sucker=0.0, temptation=1.0, punishment=0.1,
                                 rounds_ahead=3.0, known_length=True, error_rate=0.0)
    sequences = TrialSequences(game, torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1),
                               torch.zeros(1, 1, dtype=torch.long), ["x"], context=context.view(1, 1, -1))
    logits, _ = net(sequences.views())
    return float(torch.softmax(logits[0, 0], dim=-1)[0])


def test_a_surrogate_that_reads_the_context_predicts_by_payoffs_and_one_that_does_not_cannot():
    sequences = _games(150, (0.55, 0.9))
    settings = SurrogateSettings(hidden_sizes=(4,), learning_rate=0.05, batch_size=64, seed=0)
    net = train_surrogate(sequences, 4, 30, settings)
    assert net.reads_context
    low, high = (_p_first_cooperate(net, sequences.game, share) for share in (0.55, 0.9))
    assert high - low > 0.6, (low, high)
    blind = train_surrogate(TrialSequences(sequences.game, sequences.participant_actions,
                                           sequences.participant_rewards, sequences.adversary_actions,
                                           sequences.ids), 4, 30, settings)
    assert not blind.reads_context
    with torch.no_grad():
        probs = blind(TrialSequences(sequences.game, torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1),
                                     torch.zeros(1, 1, dtype=torch.long), ["x"]).views())[0].softmax(-1)
    assert 0.35 < float(probs[0, 0, 0]) < 0.65  # half the games of each kind: it can only average


def test_a_context_reading_surrogate_plays_and_ships_in_the_game_it_is_given(tmp_path):
    game = make_game("ipd", {"rounds": 5})
    torch.manual_seed(0)
    net = SurrogateNet(game, 4, reads_context=True)
    played = play_episodes(game, SurrogateParticipant(game, net), make_policy("tit_for_tat", game), 16,
                           generator=torch.Generator().manual_seed(0))
    assert played.active.all()
    path = save_surrogate(tmp_path / "s.pt", net, game)
    loaded = load_surrogate(path).net
    assert loaded.reads_context and loaded.gru.input_size == net.gru.input_size
    adversary = ShapingAdversary(game, surrogate=net)
    save_policy(tmp_path / "a.pt", adversary)
    assert load_policy(tmp_path / "a.pt").surrogate.reads_context
    with pytest.raises(ValueError, match="the view has none"):
        net(TrialSequences(make_game("bandit"), torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1),
                           torch.zeros(1, 1, dtype=torch.long), ["x"]).views())
    with pytest.raises(ValueError, match="has no participant context"):
        SurrogateNet(make_game("bandit"), 4, reads_context=True)


def test_memory_one_predicts_a_memory_one_player_better_than_the_constant():
    game = make_game("ipd", {"rounds": 30})
    generator = torch.Generator().manual_seed(0)
    n, rounds = 300, 30
    partner = (torch.rand(n, rounds, generator=generator) < 0.5).long()
    actions = torch.empty(n, rounds, dtype=torch.long)
    actions[:, 0] = 0
    for t in range(1, rounds):  # tit-for-tat with 5 % noise
        flip = (torch.rand(n, generator=generator) < 0.05).long()
        actions[:, t] = partner[:, t - 1] ^ flip
    sequences = TrialSequences(game, actions, torch.zeros(n, rounds), partner, [str(i) for i in range(n)])
    train, test = sequences.subset(list(range(200))), sequences.subset(list(range(200, 300)))
    memory_one, choices = memory_one_nll(train, test)
    constant, _ = constant_nll(train, test)
    noise = -(0.95 * math.log(0.95) + 0.05 * math.log(0.05))
    assert memory_one / choices < noise + 0.02
    assert constant / choices > 0.65


def test_leaving_one_study_out_scores_each_study_on_a_model_fitted_without_it():
    sequences = _games(40, (0.55, 0.9, 0.95))
    groups = ["A"] * 40 + ["B"] * 40 + ["C"] * 40
    settings = SurrogateSettings(hidden_sizes=(2,), batch_size=64, seed=0)
    rows = leave_one_group_out(sequences, groups, 2, 2, settings)
    assert [row["group"] for row in rows] == ["A", "B", "C"]
    assert all(row["sequences"] == 40 and row["choices"] == 160 for row in rows)
    assert all(0 < row[key] < 3 for row in rows for key in ("surrogate", "memory_one", "constant"))
    with pytest.raises(ValueError, match="one group per sequence"):
        leave_one_group_out(sequences, groups[:-1], 2, 2, settings)
    with pytest.raises(ValueError, match="at least 2 groups"):
        leave_one_group_out(sequences, ["A"] * 120, 2, 2, settings)


def test_context_noise_regularises_only_surrogates_that_read_a_context():
    sequences = _games(40, (0.55, 0.9))
    plain = SurrogateSettings(hidden_sizes=(2,), batch_size=32, seed=0)
    noisy = SurrogateSettings(hidden_sizes=(2,), batch_size=32, seed=0, context_noise=1.0)
    weights = [train_surrogate(sequences, 2, 2, s).gru.weight_ih_l0 for s in (plain, noisy)]
    assert not torch.equal(*weights)
    blind = TrialSequences(sequences.game, sequences.participant_actions, sequences.participant_rewards,
                           sequences.adversary_actions, sequences.ids)
    weights = [train_surrogate(blind, 2, 2, s).gru.weight_ih_l0 for s in (plain, noisy)]
    assert torch.equal(*weights)
    with pytest.raises(ValueError, match="context_noise must be at least 0"):
        SurrogateSettings(context_noise=-0.1)
