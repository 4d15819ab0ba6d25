"""Numeric evidence for ``elbo-check prove --evidence``: declared records, run honestly.

A derivation module declares what can be checked numerically as data, next to
its ``DERIVATION``::

    EVIDENCE = (NumericCheck(name=..., closed_form=..., estimator=..., points=...),)

A :class:`NumericCheck` carries plain numeric callables: a reference value
(numpy-level code) and an independent Monte Carlo estimator, with the points to
compare them at.  :func:`run_checks` turns records into :class:`EvidenceLine`
objects by a z-test (two-sided for an identity, one-sided for a bound), and
:func:`collect_evidence` runs the records of a registered derivation without
knowing any slug.  The records shipped with the library live in
:mod:`elbo_check.evidence.checks`.

Evidence is never a proof: a passing line does not upgrade a verdict, and a
failing line on a proved step means a bug in the checker.  A line that cannot
run is *skipped*, says why, and never passes.

Where a record's numeric reference must agree with a proved symbolic closed
form, a test ties the two (``tests/test_evidence.py`` lambdifies the
derivation's closed form and compares it with the record's callable); the
runtime side never imports sympy.

>>> from elbo_check.evidence import collect_evidence
>>> [line.passed for line in collect_evidence("gaussian-kl-standard-prior")]
[True]
>>> collect_evidence("no-such-derivation")
[]
"""

from __future__ import annotations

from elbo_check.evidence._collect import collect_evidence, evidence_slugs, registered_checks
from elbo_check.evidence._records import (
    EvidenceLine,
    NumericCheck,
    Relation,
    Status,
    describe_point,
)
from elbo_check.evidence._run import EVIDENCE_ALPHA, EVIDENCE_LINES, run_check, run_checks

__all__ = [
    "EVIDENCE_ALPHA",
    "EVIDENCE_LINES",
    "EvidenceLine",
    "NumericCheck",
    "Relation",
    "Status",
    "collect_evidence",
    "describe_point",
    "evidence_slugs",
    "registered_checks",
    "run_check",
    "run_checks",
]
