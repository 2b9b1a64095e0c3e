"""shaping_core: game rules, adversary policies, synthetic learners, the human surrogate and the
learning algorithms, with no Django.

A plain library usable from a notebook, a GPU box or a test (DESIGN.md, principle 3).
"""
