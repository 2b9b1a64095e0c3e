"""Studies, their conditions, and the participants who join them."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from shaping_core.games import GAMES, Game, make_game
from shaping_core.params import ParamsError
from shaping_core.policies import make_policy
from shaping_core.policies.base import Policy
from webapp.policies.selectors import registered_policy_load, registered_policy_name

from . import defaults

GAME_CHOICES = [(name, cls.spec.label) for name, cls in GAMES.items()]


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True, help_text="Appears in the participant link /s/SLUG/.")
    game = models.CharField(max_length=20, choices=GAME_CHOICES)
    game_params = models.JSONField(
        default=dict, blank=True,
        help_text="The game's parameters as JSON; leave empty for the defaults. Saved with every "
                  "default filled in.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT,
                              editable=False)
    consent_text = models.TextField(blank=True, help_text="Empty: a default consent text.")
    instructions = models.TextField(blank=True, help_text="Empty: the game's default instructions.")
    comprehension_questions = models.JSONField(
        default=list, blank=True,
        help_text='A list of {"question": ..., "choices": [...], "answer": <index>}. '
                  "Empty: the game's default questions.",
    )
    participant_cap_per_condition = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most participants a condition admits; empty for no cap."
    )
    completion_code = models.CharField(max_length=64, blank=True,
                                       help_text="Shown on the debrief page (e.g. a Prolific code).")
    completion_redirect_url = models.URLField(
        blank=True, help_text="Where the debrief sends participants, e.g. "
                              "https://app.prolific.com/submissions/complete?cc=CODE")
    money_per_point = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0.01"),
                                          validators=[MinValueValidator(0)])
    show_up_fee = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"),
                                      validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="GBP")
    start_time_limit_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=30, validators=[MinValueValidator(1)],
        help_text="Minutes from opening the link to starting the game (consent, instructions and the "
                  "check). Past it the participant is timed out and their place goes back to the pool. "
                  "Empty: no limit.")
    idle_time_limit_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=10, validators=[MinValueValidator(2)],
        help_text="Minutes a participant may go without a move during the game before they are timed "
                  "out and their place goes back to the pool (measured to the minute; at least 2). "
                  "Empty: no limit.")
    close_grace_minutes = models.PositiveIntegerField(
        default=5, help_text="After Close, games in progress may go on for this many minutes; then they "
                             "end and the participant sees the debrief with the points earned so far.")
    practice_trials = models.PositiveIntegerField(
        default=0, help_text="Practice trials with feedback before the game, for games that offer a "
                             "practice block (go/no-go). Stored with a practice flag, left out of "
                             "analyses. 0: none.")
    break_every_trials = models.PositiveIntegerField(
        default=0, help_text="Offer a short break after every this many trials. 0: no breaks.")
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="owned_studies", blank=True,
        help_text="Owners edit, launch, close, monitor and export the study, and choose who works on it.")
    collaborators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="collaborating_studies", blank=True,
        help_text="Collaborators see, monitor and export the study but do not change it.")
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["-created_at"]
        permissions = [("monitor_study", "Can monitor study"), ("export_study", "Can export study")]

    def __str__(self) -> str:
        return self.name

    def make_game(self) -> Game:
        return make_game(self.game, self.game_params)

    def clean(self):
        if self.game not in GAMES:
            return  # the field's own choices validation reports it
        try:
            game = self.make_game()
        except ParamsError as error:
            raise ValidationError({"game_params": str(error)}) from None
        self.game_params = game.params.to_mapping()
        if self.practice_trials and game.practice_game(self.practice_trials) is None:
            raise ValidationError({"practice_trials": f"{game.spec.label} has no practice block: leave this at 0."})
        if self.pk:
            # What each participant's game is rebuilt from (webapp/play/services.py).
            fixed = ("game", "game_params", "practice_trials")
            before = Study.objects.filter(pk=self.pk).values(*fixed).first()
            if before and self.participants.exists() and tuple(before[f] for f in fixed) != (
                    self.game, self.game_params, self.practice_trials):
                raise ValidationError("The game, its parameters and the practice block cannot change once "
                                      "participants have joined: duplicate the study instead.")
        self.consent_text = self.consent_text.strip() or defaults.CONSENT_TEXT
        self.instructions = self.instructions.strip() or defaults.INSTRUCTIONS[self.game]
        self.comprehension_questions = (self.comprehension_questions
                                        or defaults.COMPREHENSION_QUESTIONS[self.game])
        try:
            defaults.check_questions(self.comprehension_questions)
        except ValueError as error:
            raise ValidationError({"comprehension_questions": str(error)}) from None


class Condition(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conditions")
    name = models.SlugField(max_length=50)
    # A classic strategy's name, or policy:NAME for a registered checkpoint (webapp/policies).
    adversary = models.CharField(max_length=100, help_text="Which adversary plays the participants.")
    adversary_params = models.JSONField(default=dict, blank=True,
                                        help_text="The adversary's parameters as JSON; empty for defaults.")
    weight = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)],
                                         help_text="Relative share of new participants.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "name"], name="unique_condition_name")]
        ordering = ["study", "id"]

    def __str__(self) -> str:
        return f"{self.study.slug}/{self.name}"

    def make_policy(self, game: Game | None = None) -> Policy:
        game = game or self.study.make_game()
        policy_name = registered_policy_name(self.adversary)
        if policy_name is not None:  # a registered checkpoint; it checks it was trained for this game
            return registered_policy_load(policy_name, game=game)
        return make_policy(self.adversary, game, self.adversary_params)

    def clean(self):
        # On the admin's add page the study is not saved yet; the inline formset still attaches it.
        try:
            study = self.study
        except Study.DoesNotExist:
            return
        if study.game not in GAMES:
            return
        registered = registered_policy_name(self.adversary) is not None
        if registered and self.adversary_params:
            raise ValidationError({"adversary_params": "a registered policy takes no parameters: its "
                                                       "checkpoint holds them; leave this empty"})
        try:
            self.make_policy()
        except ParamsError as error:
            raise ValidationError({"adversary" if registered else "adversary_params": str(error)}) from None
        if self.pk and self.participants.exists():
            before = Condition.objects.filter(pk=self.pk).values("adversary", "adversary_params").first()
            if before and (before["adversary"], before["adversary_params"]) != (
                    self.adversary, self.adversary_params):
                raise ValidationError("The adversary cannot change once participants have been "
                                      "assigned to this condition: add a new condition instead.")


def _new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits: unguessable


def _new_public_id() -> str:
    return "p" + secrets.token_hex(6)


def _new_seed() -> int:
    return secrets.randbits(62)


class Participant(models.Model):
    class Status(models.TextChoices):
        CONSENT = "consent", "Reading consent"
        INSTRUCTIONS = "instructions", "Reading instructions"
        PLAYING = "playing", "Playing"
        COMPLETED = "completed", "Completed"
        DECLINED = "declined", "Declined consent"
        TIMED_OUT = "timed_out", "Timed out"
        ENDED_AT_CLOSE = "ended_at_close", "Ended when the study closed"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="participants")
    condition = models.ForeignKey(Condition, on_delete=models.PROTECT, related_name="participants")
    token = models.CharField(max_length=64, unique=True, default=_new_token, editable=False)
    public_id = models.CharField(max_length=20, unique=True, default=_new_public_id, editable=False,
                                 help_text="Pseudonymous id used in exports.")
    external_id = models.CharField(max_length=200, blank=True,
                                   help_text="PROLIFIC_PID or participant_label from the join link.")
    external_study_id = models.CharField(max_length=200, blank=True)
    external_session_id = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONSENT)
    seed = models.BigIntegerField(default=_new_seed, editable=False,
                                  help_text="Seeds this participant's game and adversary draws.")
    episode_length = models.PositiveIntegerField(help_text="Trials in this participant's game.")
    screen_order = models.JSONField(default=list, blank=True,
                                    help_text="Action indices in left-to-right screen order.")
    comprehension_attempts = models.PositiveIntegerField(default=0)
    is_test = models.BooleanField(
        default=False, help_text="A researcher's preview: takes no place, left out of exports and "
                                 "reports unless asked for, and can be deleted with its trials.")
    joined_at = models.DateTimeField(auto_now_add=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True,
                                    help_text="When the participation ended without completing: timed "
                                              "out, or ended when the study closed.")
    last_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "external_id"], name="one_participation_per_external_id",
                                    condition=~models.Q(external_id="")),
        ]
        ordering = ["study", "id"]

    def __str__(self) -> str:
        return self.public_id
