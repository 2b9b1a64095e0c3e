"""Go/no-go's learner zoo (learners/zoo.py): families of people for the go/no-go task. Equations
and references: each learner's docstring (learners/gonogo_learners.py, learners/q_learning.py)
and docs/learners.md.

The families err for different reasons, so an adversary that places the no-go trials has
something different to exploit in each: what the person has learnt from feedback (q_learning,
pavlovian_go_bias), time on task (fatigue), how rare no-go has been (base_rate), and the run of
own responses before a no-go (prepotency). The ranges put each family's error rates near the
Self-Regulation Ontology's 418 people (docs/learners.md: about 21% commission, 1% omission).
"""

from __future__ import annotations

from ..participants import ParticipantModel
from .gonogo_learners import BaseRateInhibition, PavlovianGoBias, ResponseHabit, VigilanceDecrement
from .zoo import Family

# Learners defined for go/no-go, registered in LEARNERS by the package.
GONOGO_LEARNERS: tuple[type[ParticipantModel], ...] = (
    PavlovianGoBias, VigilanceDecrement, BaseRateInhibition, ResponseHabit)

GONOGO_FAMILIES: tuple[Family, ...] = (
    Family("q_learning", "q_learning", {"alpha": [0.05, 0.5], "beta": [2.0, 10.0], "kappa": [0.0, 0.5],
                                        "respond_prior": [0.5, 1.0]},
           "Guitart-Masip et al. 2012 (without the Pavlovian term)"),
    Family("pavlovian_go_bias", "pavlovian_go_bias",
           {"alpha": [0.05, 0.4], "rho": [3.0, 8.0], "go_bias": [0.0, 1.0], "pavlovian": [0.2, 0.8],
            "noise": [0.0, 0.04]},
           "Guitart-Masip et al. 2012"),
    Family("fatigue", "vigilance_decrement",
           {"lapse_start": [0.05, 0.2], "lapse_growth": [0.02, 0.06],
            "respond_when_lapsing": [0.9, 1.0]},
           "Robertson et al. 1997; Thomson, Besner & Smilek 2015"),
    Family("base_rate", "base_rate",
           {"prior_mean": [0.05, 0.3], "prior_strength": [2.0, 20.0], "retention": [0.95, 1.0],
            "impulse": [-1.0, 1.0], "control": [5.0, 20.0], "omission": [0.0, 0.02]},
           "Ide et al. 2013; Yu & Cohen 2009"),
    Family("prepotency", "response_habit",
           {"rate": [0.1, 0.5], "impulse": [-2.0, 0.0], "weight": [2.0, 8.0], "omission": [0.0, 0.02]},
           "Durston et al. 2002; Wilson & Collins 2019"),
)
