"""Maximum-likelihood fits of the Q-learner (shaping_core/learners/q_learning.py) to bandit choices.

Two fits of the learner's alpha (learning rate), beta (inverse temperature) and kappa
(perseveration) to the same trials:

    pooled      one parameter set for everyone: the single synthetic learner closest to the data
    per person  one set per participant: how far people differ, e.g. how steerable they are
                (experiments/bandit_optimum.py gives the best target rate for a parameter set)

The likelihood is the learner's own: its `act` is replayed on each person's recorded trials, so a
fitted set can be given to `--learner-params` unchanged. Parameters are fitted by Adam on
unconstrained values (alpha = sigmoid, beta = 100 sigmoid, kappa = 100 tanh(x / 100), which keeps
them inside the learner's bounds), from --restarts random starts; the best start wins, per person.

    python experiments/fit_q_learning.py --data ../shared/data/bandit_choice_engineering.csv \
        --data-format bandit-choice-engineering --out out/q_fit [--restarts 4] [--steps 300] [--seed 0] [--threads 1]

Writes config.json, metrics.json (the pooled fit, quartiles of the per-person parameters, NLL per
choice of both fits), people.csv (one row per participant) and q_fit.png to --out; the last line
printed is JSON with the pooled fit, the quartiles and the NLLs. NLLs are in-sample (no held-out
data): compare them with each other, not with the surrogate's cross-validated NLL.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaping_core.arguments import positive  # noqa: E402
from shaping_core.data import DATA_FORMATS, DataFormatError, TrialSequences, load_sequences  # noqa: E402
from shaping_core.games import make_game  # noqa: E402
from shaping_core.learners.q_learning import QLearner, QState  # noqa: E402

PARAMETERS = ("alpha", "beta", "kappa")
BETA_MAX = KAPPA_MAX = 100.0  # QLearningParams' bounds


def constrained(raw: Tensor) -> dict[str, Tensor]:
    """raw [..., 3] -> alpha in (0, 1), beta in (0, 100), kappa in (-100, 100)."""
    return {"alpha": torch.sigmoid(raw[..., 0]), "beta": BETA_MAX * torch.sigmoid(raw[..., 1]),
            "kappa": KAPPA_MAX * torch.tanh(raw[..., 2] / KAPPA_MAX)}


def initial_raw(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """Random starts: alpha 0.05-0.95, beta 0.5-10, kappa -1 to 1."""
    uniform = lambda low, high: low + (high - low) * torch.rand(shape, generator=generator)  # noqa: E731
    alpha, beta, kappa = uniform(0.05, 0.95), uniform(0.5, 10.0), uniform(-1.0, 1.0)
    return torch.stack([torch.logit(alpha), torch.logit(beta / BETA_MAX),
                        KAPPA_MAX * torch.atanh(kappa / KAPPA_MAX)], dim=-1)


def choice_nll(sequences: TrialSequences, params: dict[str, Tensor]) -> Tensor:
    """[N] summed negative log-likelihood of each person's choices under the Q-learner with
    per-person parameters (each [N]), replaying the learner's own `act` trial by trial."""
    learner = QLearner(sequences.game)
    views = sequences.views()
    actions, mask = sequences.participant_actions, sequences.mask
    n, trials = actions.shape
    state = learner.reset(n)
    state = QState(q=state.q, previous_state=state.previous_state, alpha=params["alpha"],
                   beta=params["beta"], kappa=params["kappa"], gamma=torch.zeros(n))
    nll = torch.zeros(n)
    for t in range(trials):
        view = views.map(lambda field: field[:, t])
        probs, state = learner.act(view, state)
        chosen = probs.gather(1, actions[:, t].clamp_min(0).unsqueeze(1)).squeeze(1)
        nll = nll - torch.where(mask[:, t], torch.log(chosen.clamp_min(1e-12)), torch.zeros(()))
    return nll


def fit(sequences: TrialSequences, *, pooled: bool, restarts: int, steps: int, lr: float,
        seed: int) -> tuple[dict[str, Tensor], Tensor]:
    """Best of `restarts` Adam fits. Returns the parameters (each [1] if pooled, else [N]) and the
    summed NLL of each person under them ([N])."""
    n = sequences.n_sequences
    groups = 1 if pooled else n
    generator = torch.Generator().manual_seed(seed)
    raw = initial_raw((restarts, groups), generator).requires_grad_(True)
    # All restarts in one batch: the data repeated once per restart.
    repeated = sequences.subset(torch.arange(n).repeat(restarts))
    optimizer = torch.optim.Adam([raw], lr=lr)

    def per_person_nll() -> Tensor:  # [restarts, N]
        params = {k: v.expand(restarts, n).reshape(-1) for k, v in constrained(raw).items()}
        return choice_nll(repeated, params).view(restarts, n)

    for _ in range(steps):
        optimizer.zero_grad()
        per_person_nll().sum().backward()
        optimizer.step()
    with torch.no_grad():
        nll = per_person_nll()
        totals = nll.sum(dim=1, keepdim=True) if pooled else nll  # [restarts, groups]
        best = totals.argmin(dim=0)  # [groups]
        params = {k: v[best, torch.arange(groups)] for k, v in constrained(raw).items()}
        return params, nll[best.expand(n) if pooled else best, torch.arange(n)]


def quartiles(values: Tensor) -> list[float]:
    return [round(float(q), 4) for q in torch.quantile(values, torch.tensor([0.25, 0.5, 0.75]))]


def plot(people: dict[str, Tensor], pooled: dict[str, float], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy

    labels = {"alpha": "learning rate α", "beta": "inverse temperature β", "kappa": "perseveration κ"}
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, name in zip(axes, PARAMETERS):
        values = people[name].numpy()
        if name == "beta":  # spread over orders of magnitude
            bins = numpy.geomspace(max(values.min(), 1e-2), values.max(), 31)
            ax.set_xscale("log")
        else:
            bins = 30
        ax.hist(values, bins=bins, color="lightgray", edgecolor="gray")
        ax.axvline(pooled[name], color="C3", label=f"pooled fit {pooled[name]:.2f}")
        for q in quartiles(people[name]):
            ax.axvline(q, color="C0", linestyle=":", linewidth=1)
        ax.set_xlabel(labels[name])
        ax.legend(fontsize=8)
    axes[0].set_ylabel("participants")
    fig.suptitle(f"Q-learner fitted per person ({len(people['alpha'])} people; dotted: quartiles)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a bandit trial file (CSV or Parquet)")
    parser.add_argument("--data-format", choices=DATA_FORMATS, default="platform")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--restarts", type=positive, default=4, help="random starts per fit")
    parser.add_argument("--steps", type=positive, default=300, help="Adam steps per fit")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=positive, default=1,
                        help="torch threads (default 1: one trial of a few hundred people is too "
                             "small a step for a thread pool)")
    args = parser.parse_args(argv)
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    torch.set_num_threads(args.threads)
    game = make_game("bandit")
    try:
        sequences = load_sequences(args.data, args.data_format, game=game)
    except (DataFormatError, FileNotFoundError) as error:
        parser.exit(2, f"error: {error}\n")

    start = time.perf_counter()
    settings = {"restarts": args.restarts, "steps": args.steps, "lr": args.lr}
    pooled_params, pooled_nll = fit(sequences, pooled=True, seed=args.seed, **settings)
    people_params, people_nll = fit(sequences, pooled=False, seed=args.seed + 1, **settings)
    seconds = time.perf_counter() - start

    choices = sequences.mask.sum(dim=1).float()
    pooled = {k: round(float(v[0]), 4) for k, v in pooled_params.items()}
    metrics = {
        "people": sequences.n_sequences, "choices": int(choices.sum()),
        "pooled": {**pooled, "nll_per_choice": round(float(pooled_nll.sum() / choices.sum()), 4)},
        "per_person": {"quartiles": {k: quartiles(v) for k, v in people_params.items()},
                       "nll_per_choice": round(float(people_nll.sum() / choices.sum()), 4)},
        "constant_nll_per_choice": round(float(torch.log(torch.tensor(2.0))), 4),
        "seconds": round(seconds, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    config = {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "seeds": {"pooled": args.seed, "per_person": args.seed + 1},
              "data": sequences.provenance, "torch": torch.__version__,
              "python": platform.python_version()}
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    pd.DataFrame({"participant": sequences.ids,
                  **{k: v.numpy().round(4) for k, v in people_params.items()},
                  "choices": choices.int().numpy(),
                  "nll_per_choice": (people_nll / choices.clamp_min(1)).numpy().round(4),
                  }).to_csv(args.out / "people.csv", index=False)
    plot(people_params, pooled, args.out / "q_fit.png")
    print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main()
