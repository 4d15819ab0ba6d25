"""elbo-check: a formal derivation verifier for variational inference.

The package imports lazily: ``import elbo_check`` is cheap, and sympy, numpy
or any array library are imported only when the part that needs them is first
used.  A training loop that only calls :func:`gaussian_kl` never imports sympy.

>>> import elbo_check
>>> elbo_check.Verdict.PROVED.value
'proved'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # proof engine
    "Derivation": "elbo_check.derivation",
    "Step": "elbo_check.derivation",
    "Rule": "elbo_check.rules",
    "axiom": "elbo_check.rules",
    "definition": "elbo_check.rules",
    "inequality": "elbo_check.rules",
    "side_condition": "elbo_check.rules",
    "Verdict": "elbo_check.verdict",
    "StepResult": "elbo_check.results",
    "DerivationResult": "elbo_check.results",
    "check_derivation": "elbo_check.checker",
    "check_step": "elbo_check.checker",
    "CheckConfig": "elbo_check.checker",
    "Checker": "elbo_check.checker",
    # errors
    "ElboCheckError": "elbo_check.errors",
    "UsageError": "elbo_check.errors",
    "DerivationError": "elbo_check.errors",
    "EvidenceError": "elbo_check.errors",
    "ValidationError": "elbo_check.errors",
    # loss kernel
    "gaussian_kl": "elbo_check.kernel",
    "gaussian_kl_grad": "elbo_check.kernel",
    "elbo_loss": "elbo_check.kernel",
    "elbo_loss_grad": "elbo_check.kernel",
    "ELBOTerms": "elbo_check.kernel",
    "ELBOGrad": "elbo_check.kernel",
    "KLGrad": "elbo_check.kernel",
    # validator
    "validate": "elbo_check._validate",
    "ValidationResult": "elbo_check._validate",
    # numeric evidence
    "kl_mc": "elbo_check.mc",
    "MCEstimate": "elbo_check.mc",
    "z_test": "elbo_check.mc",
    "ZTest": "elbo_check.mc",
    "Independent": "elbo_check.mc",
    "LogDensity": "elbo_check.mc",
    "LinearGaussianModel": "elbo_check.models",
    "BernoulliLogisticModel": "elbo_check.models",
    "collect_evidence": "elbo_check.evidence",
    "EvidenceLine": "elbo_check.evidence",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from elbo_check._validate import ValidationResult, validate
    from elbo_check.checker import CheckConfig, Checker, check_derivation, check_step
    from elbo_check.derivation import Derivation, Step
    from elbo_check.errors import (
        DerivationError,
        ElboCheckError,
        EvidenceError,
        UsageError,
        ValidationError,
    )
    from elbo_check.evidence import EvidenceLine, collect_evidence
    from elbo_check.kernel import (
        ELBOGrad,
        ELBOTerms,
        KLGrad,
        elbo_loss,
        elbo_loss_grad,
        gaussian_kl,
        gaussian_kl_grad,
    )
    from elbo_check.mc import Independent, LogDensity, MCEstimate, ZTest, kl_mc, z_test
    from elbo_check.models import BernoulliLogisticModel, LinearGaussianModel
    from elbo_check.results import DerivationResult, StepResult
    from elbo_check.rules import Rule, axiom, definition, inequality, side_condition
    from elbo_check.verdict import Verdict


def __getattr__(name: str) -> Any:
    """Import the submodule defining ``name`` on first access."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'elbo_check' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
