"""The bandit's learner zoo (learners/zoo.py): families of people for the choice-engineering
bandit. Equations and references: each learner's docstring and docs/learners.md.

Parameter ranges are each family's plausible human range from its reference, drawn uniformly per
simulated participant. The Q-learners' ranges are anchored on the per-person fits to the human
bandit data in docs/loop.md (quartiles alpha 0.05 / 0.33 / 0.88, beta 1.4 / 2.9 / 8.9,
kappa -0.72 / -0.08 / 0.47); `q_human_fit` draws from exactly those interquartile ranges.
"""

from __future__ import annotations

from ..participants import ParticipantModel
from .beta_bernoulli import BetaBernoulliSoftmax, ThompsonSampler
from .q_variants import AsymmetricQLearner, ChoiceKernelQLearner, ForgettingQLearner, RLWSLSMixture
from .recent_mean import RecentMean
from .zoo import Family

# Learners defined for the zoo, registered in LEARNERS by the package.
BANDIT_LEARNERS: tuple[type[ParticipantModel], ...] = (
    AsymmetricQLearner, ForgettingQLearner, ChoiceKernelQLearner, RLWSLSMixture,
    BetaBernoulliSoftmax, ThompsonSampler, RecentMean,
)

BANDIT_FAMILIES: tuple[Family, ...] = (
    Family("q_learning", "q_learning",
           {"alpha": [0.05, 0.6], "beta": [2.0, 10.0], "kappa": [-0.5, 0.5]},
           "Sutton & Barto 1998; Daw 2011"),
    Family("wsls", "win_stay_lose_shift", {"epsilon": [0.05, 0.4]},
           "Nowak & Sigmund 1993; Worthy et al. 2012"),
    # The fitted people's interquartile ranges (docs/loop.md).
    Family("q_human_fit", "q_learning",
           {"alpha": [0.05, 0.88], "beta": [1.4, 8.9], "kappa": [-0.72, 0.47]},
           "per-person fits to the human bandit data (docs/loop.md)"),
    # Optimism on average (alpha_pos > alpha_neg in most of Lefebvre et al.'s people), but the
    # ranges overlap so some participants are pessimists.
    Family("q_asymmetric", "q_asymmetric",
           {"alpha_pos": [0.1, 0.8], "alpha_neg": [0.02, 0.5], "beta": [2.0, 10.0],
            "kappa": [-0.5, 0.5]},
           "Frank et al. 2007; Lefebvre et al. 2017"),
    Family("q_decay", "q_decay",
           {"alpha": [0.1, 0.7], "forget": [0.05, 0.5], "beta": [2.0, 10.0], "kappa": [-0.5, 0.5]},
           "Ito & Doya 2009; Katahira 2015"),
    Family("choice_kernel", "choice_kernel",
           {"alpha": [0.05, 0.6], "beta": [2.0, 10.0], "alpha_c": [0.05, 0.5], "beta_c": [0.5, 3.0]},
           "Wilson & Collins 2019 (model 5)"),
    Family("rl_wsls_mixture", "rl_wsls_mixture",
           {"w": [0.2, 0.8], "alpha": [0.05, 0.6], "beta": [2.0, 10.0], "p_stay_win": [0.7, 1.0],
            "p_shift_loss": [0.3, 0.8]},
           "Worthy, Pang & Byrne 2013; Worthy & Maddox 2014"),
    # beta acts on posterior means, which differ less than Q-values early on: a higher range.
    Family("beta_bernoulli_softmax", "beta_bernoulli_softmax",
           {"prior": [0.5, 2.0], "retention": [0.8, 1.0], "beta": [4.0, 20.0], "kappa": [-0.5, 0.5]},
           "Steyvers, Lee & Wagenmakers 2009"),
    Family("thompson", "thompson", {"prior": [0.5, 2.0], "retention": [0.8, 1.0]},
           "Thompson 1933; Gershman 2018"),
    Family("recent_mean", "recent_mean", {"memory": 2, "beta": [3.0, 10.0], "kappa": [-0.5, 0.5]},
           "Hertwig & Pleskac 2010; Plonsky, Teodorescu & Erev 2015"),
)
