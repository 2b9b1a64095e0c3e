"""Fitting the human surrogate (SurrogateNet) to people's trial sequences, with k-fold
cross-validation over participants.

    result = fit_surrogate(sequences, SurrogateSettings(hidden_sizes=(8, 16, 32)))
    result.net                     # refitted on all data with the chosen size and epochs
    result.metrics                 # held-out (CV) NLL per choice, its std across folds, accuracy
    evaluate_surrogate(result.net, other_sequences)

The procedure, top to bottom:

1. **Folds.** Each sequence (one participant) goes to exactly one of `folds` folds, drawn with a
   permutation seeded by `settings.seed`; a participant is never split across folds.
2. **Cross-validation.** For every hidden size and every fold, a fresh network is trained on the
   other k-1 folds with Adam on whole sequences (minibatches of `batch_size` sequences, loss =
   cross-entropy per real choice, padding masked out) for up to `max_epochs` epochs. In the
   bandit the training folds also hold each sequence's mirror image (`mirror_options`): a person
   tells the two options apart only by their rewards and the platform counterbalances the
   target's side, but a dataset's option labels may be screen sides (the public data's 0 is
   "left"), and a surrogate fitted to them learns a side bias that the adversary would then
   exploit or fight in simulation only. Refits of the human bandit surrogate with seeds 0 and 1
   scored the same held-out NLL (0.555, 0.556) yet gave the random schedule target rates of 0.49
   and 0.56 without the mirror images (docs/loop.md). Dezfouli et al.'s own code swaps the labels
   of a random half of the participants for the same reason. After every
   epoch the held-out fold's NLL per choice and accuracy are recorded. The folds of one size are
   trained side by side, epoch by epoch, so the mean across folds is known after each epoch and
   a size whose mean has not improved for `patience` epochs stops early.
3. **Selection.** The hidden size and the number of epochs are the pair that minimises the mean
   held-out NLL per choice across folds (early stopping chosen by CV, not on the refit's data).
4. **Refit.** A network of the chosen size is trained on all sequences for the chosen number of
   epochs; that is the surrogate. The CV numbers at the chosen (size, epochs) are its held-out
   metrics: NLL per choice as the mean over folds (and the std across folds, ddof=1), accuracy
   pooled over all held-out choices.

NLL is in nats per choice; a constant predictor of two equally frequent actions scores ln 2 =
0.693. The constant predictor fitted on the training folds (action frequencies, per stimulus
where the participant sees one: `constant_nll`) is evaluated on the same folds as a reference
(`metrics["baseline_nll_per_choice"]`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..data.sequences import TrialSequences
from ..devices import resolve_device
from ..games.base import Sight
from ..participants import ParticipantView
from ..run_dir import RunDir
from .model import SurrogateNet


@dataclass
class SurrogateSettings:
    """How the surrogate is fitted. Defaults reach a held-out NLL of about 0.58 per choice on the
    human bandit data (388 sequences) in a few minutes on two CPU cores."""

    hidden_sizes: tuple[int, ...] = (4, 8, 16, 32)  # GRU sizes compared by cross-validation
    folds: int = 5  # k of k-fold CV over sequences (participants); at least 2
    max_epochs: int = 150  # most passes over the training folds per (size, fold)
    patience: int | None = 25  # stop a size when its mean held-out NLL has not improved for this
    #                           many epochs (None: always run max_epochs)
    learning_rate: float = 1e-2  # Adam's step size
    # Decay the step size linearly from learning_rate to 0 over max_epochs, in CV and refit alike
    # (so the refit at the chosen epoch has the step size its CV score was measured at). Without
    # it the last minibatch steps leave the weights noisy: on the go/no-go data 20 full-batch steps
    # at a tenth of the step size moved the refit's mean P(respond | no-go) from 0.155 to 0.215,
    # people's rate being 0.210 (docs/loop.md).
    anneal_lr: bool = False
    batch_size: int = 32  # sequences per minibatch (each minibatch holds whole sequences)
    weight_decay: float = 0.0  # Adam's L2 penalty on all weights
    grad_clip: float | None = 1.0  # clip the gradient's global norm to this (None: no clipping)
    seed: int = 0  # seeds the folds, every network's initial weights and the minibatch order
    # Train on every sequence and its mirror image (options swapped) in games whose options differ
    # only in what they earn (the bandit, Game.mirror; ignored in the others). Held-out scores are
    # still on the sequences as recorded. Why: see the module docstring, step 2.
    mirror_options: bool = True
    # Standard deviation of Gaussian noise added to the participant context (the IPD's payoffs and
    # horizon) of every training minibatch, so that predictions change smoothly with the game and a
    # game unlike any in the data is not predicted with the confidence of the nearest study.
    # Ignored where the sequences carry no context. Not used for the shipped IPD surrogate: on the
    # human games 1.0 lowered the mean leave-one-study-out NLL (0.406 to 0.397) but the surrogate
    # stopped reading the horizon (docs/asymmetry.md).
    context_noise: float = 0.0
    device: str = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be positive whole numbers, got {self.hidden_sizes}")
        if len(set(self.hidden_sizes)) != len(self.hidden_sizes):
            raise ValueError(f"hidden_sizes has repeats: {self.hidden_sizes}")
        for name, low in (("folds", 2), ("max_epochs", 1), ("batch_size", 1)):
            if int(getattr(self, name)) < low:
                raise ValueError(f"{name} must be at least {low}, got {getattr(self, name)}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be at least 1 or None, got {self.patience}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.context_noise < 0:
            raise ValueError(f"context_noise must be at least 0, got {self.context_noise}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must not be negative, got {self.weight_decay}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip}")
        resolve_device(self.device)

    def to_mapping(self) -> dict[str, Any]:
        mapping = asdict(self)
        mapping["hidden_sizes"] = list(self.hidden_sizes)
        return mapping

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any]) -> SurrogateSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in mapping.items() if k in known})


@dataclass
class FitResult:
    net: SurrogateNet  # refitted on all sequences with the chosen size and epochs
    hidden_size: int  # chosen by CV
    epochs: int  # chosen by CV (the early-stopping epoch), used for the refit
    cv_table: list[dict[str, Any]]  # one row per hidden size at its best epoch (see cv_table)
    curves: dict[int, dict[str, list[list[float]]]]  # size -> {"nll_per_choice", "accuracy"}:
    #                                                  [fold][epoch - 1] held-out values
    metrics: dict[str, Any]  # held-out metrics at the chosen (size, epochs)
    folds: list[int]  # the fold of every sequence
    settings: SurrogateSettings
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of CV and refit

    @property
    def selection(self) -> dict[str, Any]:
        """What the checkpoint records about how the size and epochs were chosen."""
        return {"hidden_size": self.hidden_size, "epochs": self.epochs,
                "criterion": "mean held-out NLL per choice across folds",
                "folds": self.settings.folds, "table": self.cv_table}


# --- the loss ------------------------------------------------------------------------------------


def _views_to(views: ParticipantView, device: torch.device) -> ParticipantView:
    return views.map(lambda field: field.to(device))


def _masked_nll(logits: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Summed NLL over real trials (action >= 0), number of correct argmax predictions, and the
    number of real trials. logits [N, T, A], actions [N, T] with -1 as padding."""
    mask = actions >= 0
    log_probs = torch.log_softmax(logits, dim=-1)
    picked = log_probs.gather(-1, actions.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    nll = -(picked * mask).sum()
    correct = ((logits.argmax(dim=-1) == actions) & mask).sum()
    return nll, correct, mask.sum()


@torch.no_grad()
def sequence_nll(net: SurrogateNet, sequences: TrialSequences) -> tuple[float, int, int]:
    """(summed NLL in nats, correct argmax predictions, choices) over the real trials of
    `sequences`; padding after a sequence's end is not scored."""
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    logits, _ = net(_views_to(sequences.views(), device))
    nll, correct, choices = _masked_nll(logits, sequences.participant_actions.to(device))
    net.train(was_training)
    return float(nll), int(correct), int(choices)


def evaluate_surrogate(net: SurrogateNet, sequences: TrialSequences) -> dict[str, Any]:
    """{"nll_per_choice", "accuracy", "choices"} of `net` on `sequences`."""
    nll, correct, choices = sequence_nll(net, sequences)
    if choices == 0:
        raise ValueError("the sequences hold no choices to evaluate")
    return {"nll_per_choice": nll / choices, "accuracy": correct / choices, "choices": choices}


def constant_nll(train: TrialSequences, test: TrialSequences) -> tuple[float, int]:
    """Summed NLL and choices on `test` of the constant predictor fitted on `train`: action
    frequencies with one pseudo-count per action, kept apart per cue where the participant sees
    the adversary's move before choosing (Sight.CUE: go/no-go's per-stimulus response rates),
    since a model that only learned the cue's meaning would otherwise look like it learned
    people."""
    n_actions = len(train.game.spec.participant_actions)
    if train.game.spec.participant_sees is Sight.CUE:
        n_cues = len(train.game.spec.adversary_actions)
        train_cue, test_cue = train.adversary_actions[train.mask], test.adversary_actions[test.mask]
    else:
        n_cues = 1
        train_cue = torch.zeros(train.n_choices, dtype=torch.long)
        test_cue = torch.zeros(test.n_choices, dtype=torch.long)
    if bool((train_cue < 0).any() or (test_cue < 0).any()):
        raise ValueError("the per-cue constant predictor needs the adversary's move on every trial")
    cells = train_cue * n_actions + train.participant_actions[train.mask]
    counts = torch.bincount(cells, minlength=n_cues * n_actions).double().view(n_cues, n_actions) + 1
    log_p = torch.log(counts / counts.sum(dim=1, keepdim=True))
    actions = test.participant_actions[test.mask]
    return float(-log_p[test_cue, actions].sum()), int(actions.numel())


def memory_one_nll(train: TrialSequences, test: TrialSequences) -> tuple[float, int]:
    """Summed NLL and choices on `test` of the memory-one predictor fitted on `train`: action
    frequencies (one pseudo-count per action) given the participant's previous action and the
    adversary's previous move as they saw it, the first trial being its own cell. In the IPD
    this is P(C | start, CC, CD, DC, DD), a strong baseline on people from studies it was not
    fitted on (Nay & Vorobeychik 2016)."""
    n_actions = len(train.game.spec.participant_actions)
    n_seen = len(train.game.spec.adversary_actions) + 1  # +1: none

    def cells(sequences: TrialSequences) -> tuple[Tensor, Tensor]:
        views, mask = sequences.views(), sequences.mask
        cell = (views.last_action[mask] + 1) * n_seen + (views.last_seen[mask] + 1)
        return cell, sequences.participant_actions[mask]

    n_cells = (n_actions + 1) * n_seen
    train_cell, train_action = cells(train)
    counts = torch.bincount(train_cell * n_actions + train_action,
                            minlength=n_cells * n_actions).double().view(n_cells, n_actions) + 1
    log_p = torch.log(counts / counts.sum(dim=1, keepdim=True))
    test_cell, test_action = cells(test)
    return float(-log_p[test_cell, test_action].sum()), int(test_action.numel())


# --- training ------------------------------------------------------------------------------------


def fold_assignment(n_sequences: int, folds: int, seed: int) -> Tensor:
    """The fold (0..folds-1) of each sequence: a seeded permutation dealt round-robin, so fold
    sizes differ by at most one."""
    if n_sequences < folds:
        raise ValueError(f"{folds}-fold cross-validation needs at least {folds} sequences, "
                         f"got {n_sequences}")
    permutation = torch.randperm(n_sequences, generator=torch.Generator().manual_seed(seed))
    assignment = torch.empty(n_sequences, dtype=torch.long)
    assignment[permutation] = torch.arange(n_sequences) % folds
    return assignment


class _Trainer:
    """One network with its optimiser and minibatch order, trained one epoch at a time."""

    def __init__(self, sequences: TrialSequences, hidden_size: int, settings: SurrogateSettings,
                 device: torch.device, seed: int):
        torch.manual_seed(seed)  # the network's initial weights
        if settings.mirror_options and sequences.can_mirror:
            sequences = sequences.with_mirror_images()
        self.net = SurrogateNet(sequences.game, hidden_size,
                                reads_context=sequences.context is not None).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=settings.learning_rate,
                                          weight_decay=settings.weight_decay)
        self.views = _views_to(sequences.views(), device)
        self.actions = sequences.participant_actions.to(device)
        self.settings = settings
        self.generator = torch.Generator().manual_seed(seed)  # minibatch order
        self.epochs_done = 0

    def epoch(self) -> None:
        self.net.train()
        if self.settings.anneal_lr:
            remaining = 1 - self.epochs_done / self.settings.max_epochs
            for group in self.optimizer.param_groups:
                group["lr"] = self.settings.learning_rate * remaining
        self.epochs_done += 1
        order = torch.randperm(self.actions.shape[0], generator=self.generator)
        for batch in order.split(self.settings.batch_size):
            batch = batch.to(self.actions.device)
            # Cut the padding after the batch's longest sequence: the GRU runs forwards, so no
            # prediction changes, and data of mixed lengths (the human IPD games: 1 to 38
            # rounds) train several times faster.
            length = int((self.actions[batch] >= 0).sum(dim=1).max())
            views = self.views.map(lambda field: field[batch, :length])
            if self.settings.context_noise > 0 and self.net.reads_context:
                noise = torch.randn(views.context.shape, generator=self.generator).to(views.context.device)
                views = replace(views, context=views.context + self.settings.context_noise * noise)
            logits, _ = self.net(views)
            nll, _, choices = _masked_nll(logits, self.actions[batch, :length])
            loss = nll / choices.clamp_min(1)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.settings.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.net.parameters(), self.settings.grad_clip)
            self.optimizer.step()


def _run_seed(seed: int, hidden_size: int, fold: int) -> int:
    """A distinct, reproducible seed for each (hidden size, fold); fold -1 is the refit."""
    return (seed * 1_000_003 + hidden_size * 1_009 + fold + 1) % (2**31)


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def cross_validate(sequences: TrialSequences, settings: SurrogateSettings, assignment: Tensor,
                   hidden_size: int, progress: bool = True) -> dict[str, list[list[float]]]:
    """Held-out curves [fold][epoch - 1] ("nll_per_choice", "accuracy", and per fold the
    "nll_sum", "correct", "choices" needed for pooled numbers) of one hidden size; the folds are
    0 .. assignment.max()."""
    from tqdm.auto import tqdm

    device = resolve_device(settings.device)
    trainers, held_out = [], []
    for fold in range(int(assignment.max()) + 1):
        train = sequences.subset(torch.nonzero(assignment != fold).squeeze(1))
        held_out.append(sequences.subset(torch.nonzero(assignment == fold).squeeze(1)))
        trainers.append(_Trainer(train, hidden_size, settings, device,
                                 _run_seed(settings.seed, hidden_size, fold)))
    curves: dict[str, list[list[float]]] = {key: [[] for _ in trainers] for key in
                                            ("nll_per_choice", "accuracy", "nll_sum", "correct")}
    curves["choices"] = [[test.n_choices] for test in held_out]
    best, since_best = math.inf, 0
    bar = tqdm(range(1, settings.max_epochs + 1), desc=f"CV hidden {hidden_size:>3}",
               disable=not progress, leave=True, dynamic_ncols=True)
    for epoch in bar:
        for fold, (trainer, test) in enumerate(zip(trainers, held_out)):
            trainer.epoch()
            nll, correct, choices = sequence_nll(trainer.net, test)
            curves["nll_sum"][fold].append(nll)
            curves["correct"][fold].append(correct)
            curves["nll_per_choice"][fold].append(nll / choices)
            curves["accuracy"][fold].append(correct / choices)
        mean = float(np.mean([c[-1] for c in curves["nll_per_choice"]]))
        if mean < best:
            best, since_best = mean, 0
        else:
            since_best += 1
        bar.set_postfix(nll=f"{mean:.4f}", best=f"{best:.4f}")
        if settings.patience is not None and since_best >= settings.patience:
            break
    bar.close()
    return curves


def train_surrogate(sequences: TrialSequences, hidden_size: int, epochs: int,
                    settings: SurrogateSettings, *, fold: int = -1,
                    progress: bool = False) -> SurrogateNet:
    """A surrogate of `hidden_size` trained on all of `sequences` for `epochs` epochs, in eval
    mode: the refit once CV has chosen both, or a fit whose size and epochs were chosen
    elsewhere (leave-one-study-out folds). `fold` >= 0 seeds it as that CV fold's network."""
    from tqdm.auto import tqdm

    trainer = _Trainer(sequences, hidden_size, settings, resolve_device(settings.device),
                       _run_seed(settings.seed, hidden_size, fold))
    for _ in tqdm(range(epochs), desc=f"fit hidden {hidden_size:>3}", disable=not progress,
                  leave=True, dynamic_ncols=True):
        trainer.epoch()
    return trainer.net.eval()


def leave_one_group_out(sequences: TrialSequences, groups: list[str], hidden_size: int,
                        epochs: int, settings: SurrogateSettings,
                        progress: bool = False) -> list[dict[str, Any]]:
    """Held-out NLL per choice of each group (a study) for a surrogate of `hidden_size` trained
    `epochs` epochs on all the other groups, beside the constant and memory-one predictors fitted
    on the same other groups. Size and epochs must be chosen without these folds (for example by
    fit_surrogate's random-sequence CV), so that no held-out figure is also a selection score."""
    if len(groups) != sequences.n_sequences:
        raise ValueError(f"one group per sequence is needed: {len(groups)} groups for "
                         f"{sequences.n_sequences} sequences")
    names = sorted(set(groups))
    if len(names) < 2:
        raise ValueError(f"leaving one group out needs at least 2 groups, got {names}")
    rows = []
    for fold, name in enumerate(names):
        held = torch.tensor([g == name for g in groups])
        train = sequences.subset(torch.nonzero(~held).squeeze(1))
        test = sequences.subset(torch.nonzero(held).squeeze(1))
        net = train_surrogate(train, hidden_size, epochs, settings, fold=fold, progress=progress)
        nll, correct, choices = sequence_nll(net, test)
        constant, _ = constant_nll(train, test)
        memory_one, _ = memory_one_nll(train, test)
        rows.append({"group": name, "sequences": test.n_sequences, "choices": choices,
                     "surrogate": nll / choices, "accuracy": correct / choices,
                     "memory_one": memory_one / choices, "constant": constant / choices})
    return rows


def _table_row(hidden_size: int, curves: dict[str, list[list[float]]]) -> dict[str, Any]:
    """One CV table row: the size at the epoch minimising its mean held-out NLL across folds."""
    nll = np.array(curves["nll_per_choice"])  # [folds, epochs]
    best = int(nll.mean(axis=0).argmin())
    correct = sum(c[best] for c in curves["correct"])
    choices = sum(c[0] for c in curves["choices"])
    return {
        "hidden_size": hidden_size,
        "best_epoch": best + 1,
        "nll_per_choice_mean": float(nll[:, best].mean()),
        "nll_per_choice_std": _std(nll[:, best].tolist()),
        "nll_per_choice_pooled": sum(c[best] for c in curves["nll_sum"]) / choices,
        "accuracy": correct / choices,
        "accuracy_std": _std([curves["correct"][f][best] / curves["choices"][f][0]
                              for f in range(nll.shape[0])]),
        "epochs_run": nll.shape[1],
    }


def fit_surrogate(sequences: TrialSequences, settings: SurrogateSettings | None = None,
                  progress: bool = True) -> FitResult:
    """Cross-validate hidden size and epochs, then refit on all sequences (module docstring)."""
    settings = settings or SurrogateSettings()
    if sequences.n_choices == 0:
        raise ValueError("the sequences hold no choices to fit")
    resolve_device(settings.device)  # a device that is not there fails now, not after the folds
    assignment = fold_assignment(sequences.n_sequences, settings.folds, settings.seed)

    started = time.perf_counter()
    curves = {h: cross_validate(sequences, settings, assignment, h, progress)
              for h in settings.hidden_sizes}
    table = [_table_row(h, c) for h, c in curves.items()]
    chosen = min(table, key=lambda row: (row["nll_per_choice_mean"], row["hidden_size"]))
    cv_seconds = time.perf_counter() - started

    baseline = []
    for fold in range(settings.folds):
        train = sequences.subset(torch.nonzero(assignment != fold).squeeze(1))
        test = sequences.subset(torch.nonzero(assignment == fold).squeeze(1))
        nll, choices = constant_nll(train, test)
        baseline.append(nll / choices)

    started = time.perf_counter()
    refit = train_surrogate(sequences, chosen["hidden_size"], chosen["best_epoch"], settings,
                            progress=progress)
    refit_seconds = time.perf_counter() - started

    metrics = {
        "nll_per_choice": chosen["nll_per_choice_mean"],
        "nll_per_choice_std": chosen["nll_per_choice_std"],
        "nll_per_choice_pooled": chosen["nll_per_choice_pooled"],
        "accuracy": chosen["accuracy"],
        "accuracy_std": chosen["accuracy_std"],
        "choices": sequences.n_choices,
        "sequences": sequences.n_sequences,
        "folds": settings.folds,
        "baseline_nll_per_choice": float(np.mean(baseline)),
        "baseline_nll_per_choice_std": _std(baseline),
        "train": evaluate_surrogate(refit, sequences),  # in-sample, for reference only
    }
    public_curves = {h: {"nll_per_choice": c["nll_per_choice"], "accuracy": c["accuracy"]}
                     for h, c in curves.items()}
    return FitResult(refit, chosen["hidden_size"], chosen["best_epoch"], table, public_curves,
                     metrics, assignment.tolist(), settings,
                     {"cv": cv_seconds, "refit": refit_seconds})


# --- the report ----------------------------------------------------------------------------------


def format_cv_table(result: FitResult) -> str:
    lines = ["hidden  best epoch  held-out NLL/choice (mean ± std over folds)  accuracy  epochs run"]
    for row in result.cv_table:
        mark = "  <- chosen" if row["hidden_size"] == result.hidden_size else ""
        lines.append(f"{row['hidden_size']:>6}  {row['best_epoch']:>10}  "
                     f"{row['nll_per_choice_mean']:>21.4f} ± {row['nll_per_choice_std']:.4f}"
                     f"{'':>15}{row['accuracy']:>9.4f}  {row['epochs_run']:>10}{mark}")
    lines.append(f"constant predictor: {result.metrics['baseline_nll_per_choice']:.4f}")
    return "\n".join(lines)


def plot_cv(result: FitResult, path: str | Path) -> Path:
    """Held-out NLL per choice against epochs for each hidden size (mean ± std across folds),
    with the constant predictor as a reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for hidden_size, curve in result.curves.items():
        nll = np.array(curve["nll_per_choice"])
        epochs = np.arange(1, nll.shape[1] + 1)
        mean = nll.mean(axis=0)
        std = nll.std(axis=0, ddof=1) if nll.shape[0] > 1 else np.zeros_like(mean)
        (line,) = ax.plot(epochs, mean, label=f"hidden {hidden_size}")
        ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.axhline(result.metrics["baseline_nll_per_choice"], color="grey", linestyle="--",
               label="constant predictor")
    ax.plot([result.epochs], [result.metrics["nll_per_choice"]], marker="*", color="black",
            markersize=12, linestyle="none",
            label=f"chosen: hidden {result.hidden_size}, {result.epochs} epochs")
    ax.set_xlabel("epoch")
    ax.set_ylabel("held-out NLL per choice (nats)")
    ax.set_title(f"surrogate {result.settings.folds}-fold CV (mean ± std across folds)")
    best = min(float(np.array(c["nll_per_choice"]).mean(axis=0).min()) for c in result.curves.values())
    top = result.metrics["baseline_nll_per_choice"]
    ax.set_ylim(best - 0.25 * (top - best) - 0.01, top + 0.6 * (top - best) + 0.01)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_fit_report(folder: str | Path, result: FitResult, config: dict[str, Any]) -> dict[str, str]:
    """config.json (the run's arguments and settings), metrics.json (CV table, curves, held-out
    metrics) and cv.png in `folder`; returns their paths."""
    run = RunDir(folder)
    paths = {"config.json": run.write_config(config),
             "metrics.json": run.write_metrics({"held_out": result.metrics, "hidden_size": result.hidden_size,
                                                "epochs": result.epochs, "cv_table": result.cv_table,
                                                "curves": {str(h): c for h, c in result.curves.items()},
                                                "folds": result.folds, "seconds": result.seconds}),
             "cv.png": run.path("cv.png")}
    plot_cv(result, paths["cv.png"])
    return {name: str(path) for name, path in paths.items()}
