"""The trial table: the truth about every game (DESIGN.md, principle 4)."""

from django.db import models

from webapp.studies.models import Participant


class Trial(models.Model):
    """One trial of one participant's game.

    In games where the adversary commits first (simultaneous or adversary-first turn order) the
    row is written with the adversary's action when the trial is presented, and completed when
    the participant's choice arrives: a row with no participant action is the open trial.

    A study may start its game with a practice block (`Study.practice_trials`, in games that have
    one): its trials are rows with `practice` set, numbered from 0 like the game's own, played
    against the game's baseline adversary. They earn nothing, the adversary of the game never sees
    them, and analyses leave them out unless asked for them.
    """

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="trials")
    practice = models.BooleanField(default=False, help_text="A trial of the practice block before the game.")
    index = models.PositiveIntegerField()
    adversary_action = models.PositiveSmallIntegerField()
    adversary_probs = models.JSONField(null=True, blank=True,
                                       help_text="The adversary's action probabilities, when it has them.")
    participant_action = models.PositiveSmallIntegerField(null=True, blank=True)
    participant_reward = models.FloatField(null=True, blank=True)
    adversary_reward = models.FloatField(null=True, blank=True)
    reaction_time_ms = models.FloatField(null=True, blank=True, help_text="Measured by the browser.")
    presented_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["participant", "practice", "index"],
                                               name="one_row_per_trial")]
        ordering = ["participant", "-practice", "index"]

    def __str__(self) -> str:
        return f"{self.participant.public_id} {'practice ' if self.practice else ''}trial {self.index}"

    @property
    def is_complete(self) -> bool:
        return self.participant_action is not None
