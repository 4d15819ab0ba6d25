"""``elbo-check kl-formula``: closed-form KL divergences between named distribution pairs.

:mod:`.families` is the one typed definition of the supported families
(sympy.stats names and parameter orders, parameter domains, supports and
densities); the parser, the derivations and the numeric judge all read it.
"""

from __future__ import annotations

__all__: list[str] = []
