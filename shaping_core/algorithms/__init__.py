"""Learning algorithms, one readable file each (DESIGN.md, principle 8).

- gae.py           generalised advantage estimation (shared)
- rollout.py       two policies playing a batch of symmetric simultaneous games (the IPD)
- actor_critic.py  the naive learner: advantage actor-critic with GAE
- ppo.py           PPO's clipped surrogate on top of the actor-critic
- adalign.py       Advantage Alignment (Duque et al., ICLR 2025), plain and proximal
- lola_exact.py    exact LOLA on the infinitely iterated PD (closed-form values)

Each learner's settings are one documented dataclass. Experiments live in shaping_core.ipd_training
and the CLI (`python -m shaping_core`).
"""
