"""The trusted core: the only code that can make a step ``proved``.

Read these files to trust the tool (see ``docs/soundness.md``):

* :mod:`~elbo_check.core.fragment`: the node and assumption whitelists;
* :mod:`~elbo_check.core.terms`: bound variables and capture-free rewriting;
* :mod:`~elbo_check.core.algebra`: canonical zero and non-negativity;
* :mod:`~elbo_check.core.integrals`: convergence and the integral moves;
* :mod:`~elbo_check.core.lemmas`: lemma instances, re-derived;
* :mod:`~elbo_check.core.premises`: definitions, and the hypotheses of lemma instances;
* :mod:`~elbo_check.core.decide`: the door, :meth:`Core.decide`.

Everything else in elbo-check (numerics, ``simplify``, rendering) proposes,
corroborates or refutes; none of it can say ``proved``.
"""

from __future__ import annotations

from elbo_check.core.decide import Core, Decision

__all__ = ["Core", "Decision"]
