"""Trained adversaries registered from policy checkpoints, ready to serve in study conditions.

A condition plays a registered policy when its adversary is written `policy:<name>`
(docs/policies.md). The checkpoint's bytes are stored in the database, not on disk, so every
worker and every database backup has exactly the file that was registered.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

ADVERSARY_PREFIX = "policy:"


class RegisteredPolicy(models.Model):
    name = models.SlugField(
        max_length=80, unique=True,
        help_text="Letters, digits, '-' and '_'. A condition plays it as adversary policy:NAME.")
    game = models.CharField(max_length=20, help_text="The game the checkpoint was trained for.")
    kind = models.CharField(max_length=50, help_text="The checkpoint's policy class (e.g. gru).")
    objective = models.CharField(max_length=100, blank=True,
                                 help_text="The training objective named in the checkpoint, if any.")
    description = models.TextField(blank=True)
    checkpoint = models.BinaryField(help_text="The .pt file's bytes.")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField(help_text="Bytes.")
    game_params = models.JSONField(default=dict, help_text="The game parameters it was trained for.")
    provenance = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = "registered policy"
        verbose_name_plural = "registered policies"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def adversary(self) -> str:
        """What a condition's adversary field holds to play this policy."""
        return f"{ADVERSARY_PREFIX}{self.name}"
