"""shaping_core: game rules, adversary policies and (later) learning, with no Django.

A plain library usable from a notebook, a GPU box or a test (DESIGN.md, principle 3).
"""
