"""The validator's vocabulary, defined once: bug classes, reductions, backends, dtypes, call statuses.

Every enum is a ``str`` enum whose values are the stable strings of the CLI
flags and of the JSON output, so ``BugClass.SIGN_FLIP == "sign_flip"`` and
``json.dumps`` writes the plain string.  The CLI's ``choices``, the API's
checks, the JSON and the docs table (``bug_class_table``) all read these
enums; no other list of the same names exists.

>>> from elbo_check._validate._types import BugClass, Reduction
>>> BugClass("sign_flip") is BugClass.SIGN_FLIP
True
>>> BugClass.SIGN_FLIP == "sign_flip", BugClass.SIGN_FLIP
(True, 'sign_flip')
>>> [r.value for r in Reduction]
['none', 'batch', 'sum', 'batchmean', 'mean']
"""

from __future__ import annotations

import enum

__all__ = [
    "DIAG_SCALES",
    "DISCRETE_QUANTITIES",
    "FULL_SCALES",
    "BackendName",
    "BugClass",
    "CallStatus",
    "DiscreteDist",
    "DtypeName",
    "Quantity",
    "Reduction",
    "bug_class_table",
]


class _StrEnum(str, enum.Enum):
    """A str enum that prints as its value (``str(BugClass.SIGN_FLIP) == 'sign_flip'``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return repr(self.value)


class Reduction(_StrEnum):
    """How the KL is reduced, as in :func:`elbo_check.gaussian_kl`."""

    NONE = "none"
    BATCH = "batch"
    SUM = "sum"
    BATCHMEAN = "batchmean"
    MEAN = "mean"


class Quantity(_StrEnum):
    """What one argument holds: a mean or a parametrisation of the scale."""

    MU = "mu"
    LOGVAR = "logvar"
    STD = "std"
    VAR = "var"
    LOGSTD = "logstd"
    COV = "cov"
    SCALE_TRIL = "scale_tril"
    PROBS = "probs"
    LOGITS = "logits"


#: the diagonal scale parametrisations, and the full-covariance ones
DIAG_SCALES = (Quantity.LOGVAR, Quantity.STD, Quantity.VAR, Quantity.LOGSTD)
FULL_SCALES = (Quantity.COV, Quantity.SCALE_TRIL)
#: the parametrisations of a discrete distribution (``probs_q``, ``logits_p``, ...)
DISCRETE_QUANTITIES = (Quantity.PROBS, Quantity.LOGITS)


class DiscreteDist(_StrEnum):
    """The discrete family a probs/logits convention means (the JSON's ``family``).

    Bernoulli when every array holds one probability (or logit) per latent
    unit; Categorical when the layout has the class axis ``K``.
    """

    BERNOULLI = "bernoulli"
    CATEGORICAL = "categorical"


class BackendName(_StrEnum):
    """The array library whose arrays the function receives."""

    NUMPY = "numpy"
    TORCH = "torch"
    JAX = "jax"


class DtypeName(_StrEnum):
    """The floating-point type of the inputs."""

    FLOAT64 = "float64"
    FLOAT32 = "float32"


class CallStatus(_StrEnum):
    """What one call of the function did."""

    OK = "ok"
    RAISED = "raised"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    BAD_RETURN = "bad_return"
    TOO_LARGE = "too_large"
    MUTATION = "mutation"


class BugClass(_StrEnum):
    """The stable identifier of a diagnosis (the JSON's ``bug_class``)."""

    SIGN_FLIP = "sign_flip"
    MISSING_HALF = "missing_half"
    MISSING_CONSTANT = "missing_constant"
    PLUS_MU_SQUARED = "plus_mu_squared"
    MISSING_MEAN_TERM = "missing_mean_term"
    LOG_TERM_SIGN = "log_term_sign"
    LOG_TERM_NOT_HALVED = "log_term_not_halved"
    SCALE_CONFUSION = "scale_confusion"
    WRONG_REDUCTION = "wrong_reduction"
    CONSTANT_FACTOR = "constant_factor"
    ADDITIVE_CONSTANT = "additive_constant"
    OUTPUT_FLOOR = "output_floor"
    MONTE_CARLO_ESTIMATE = "monte_carlo_estimate"
    TWO_BUGS = "two_bugs"
    REVERSED_KL = "reversed_kl"
    IGNORED_PRIOR_MEAN = "ignored_prior_mean"
    IGNORED_PRIOR_VARIANCE = "ignored_prior_variance"
    IGNORED_PRIOR = "ignored_prior"
    SWAPPED_TRACE = "swapped_trace"
    LOGDET_WITHOUT_HALF = "logdet_without_half"
    TRANSPOSED_MATRIX = "transposed_matrix"
    INVERTED_MATRIX = "inverted_matrix"
    LOG_ZERO_NAN = "log_zero_nan"
    EPSILON_BIAS = "epsilon_bias"
    LOGITS_AS_PROBS = "logits_as_probs"
    PROBS_AS_LOGITS = "probs_as_logits"
    SOFTMAX_WRONG_AXIS = "softmax_wrong_axis"
    CLAMPING = "clamping"
    PRECISION_LOSS = "precision_loss"
    NAN_OR_INF = "nan_or_inf"
    WRONG_SHAPE = "wrong_shape"
    RAISES = "raises"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    BAD_RETURN = "bad_return"
    MUTATES_INPUTS = "mutates_inputs"
    WRONG_VALUE = "wrong_value"


_MEANING: dict[BugClass, str] = {
    BugClass.SIGN_FLIP: "returns −KL (or −2·KL)",
    BugClass.MISSING_HALF: "returns 2·KL",
    BugClass.MISSING_CONSTANT: "the −1 (−D for full covariance) is missing, so KL(p‖p) ≠ 0",
    BugClass.PLUS_MU_SQUARED: "`+mu²` where `−mu²` is needed",
    BugClass.MISSING_MEAN_TERM: "the mean term (μq − μp)²/σp² is dropped",
    BugClass.LOG_TERM_SIGN: "the log term has the wrong sign",
    BugClass.LOG_TERM_NOT_HALVED: "lv_p − lv_q where ½(lv_p − lv_q) is meant",
    BugClass.SCALE_CONFUSION: "std, var, logvar and logstd confused (an argument read as another parametrisation, log σ for log σ², ...)",
    BugClass.WRONG_REDUCTION: "a mean over latent dims, a sum over the batch axis, a missing 1/N, ...",
    BugClass.CONSTANT_FACTOR: "the output is c·KL (β weighting, a division by the pixel count, ...); c is reported as a fraction",
    BugClass.ADDITIVE_CONSTANT: "the output is KL + c·D + c0",
    BugClass.OUTPUT_FLOOR: "free bits or nats: max(KL, λ), with λ reported",
    BugClass.MONTE_CARLO_ESTIMATE: "a sampled estimate instead of the closed form; bias and standard error reported",
    BugClass.TWO_BUGS: "two known bugs at once, both named",
    BugClass.REVERSED_KL: "computes KL(p‖q)",
    BugClass.IGNORED_PRIOR_MEAN: "the prior mean is treated as 0",
    BugClass.IGNORED_PRIOR_VARIANCE: "the prior variance is treated as 1",
    BugClass.IGNORED_PRIOR: "the prior is treated as N(0, 1) (Bernoulli/Categorical: as uniform, the given p unused)",
    BugClass.SWAPPED_TRACE: "tr(Σq⁻¹Σp) for tr(Σp⁻¹Σq)",
    BugClass.LOGDET_WITHOUT_HALF: "the log-det term without its ½",
    BugClass.TRANSPOSED_MATRIX: "LᵀL for L Lᵀ",
    BugClass.INVERTED_MATRIX: "Σp for Σp⁻¹",
    BugClass.LOG_ZERO_NAN: "Bernoulli/Categorical: nan or inf only where a probability is exactly 0 (or 1): `0·log 0` without an ε or `xlogy`",
    BugClass.EPSILON_BIAS: "Bernoulli/Categorical: an ε in a log (`log(q + ε)`, a clamp at ε) large enough to bias the result; ε is reported",
    BugClass.LOGITS_AS_PROBS: "Bernoulli/Categorical: logits used as if they were probabilities (no softmax/sigmoid)",
    BugClass.PROBS_AS_LOGITS: "Bernoulli/Categorical: probabilities passed through softmax/sigmoid again, as if they were logits",
    BugClass.SOFTMAX_WRONG_AXIS: "Categorical: softmax (or log-softmax) over another axis than the class axis",
    BugClass.CLAMPING: "right for moderate inputs, wrong only at the listed extreme ones (clamp/clip, an ε)",
    BugClass.PRECISION_LOSS: "errors far beyond the dtype's rounding but small: the effective precision is named",
    BugClass.NAN_OR_INF: "nan or inf on valid input",
    BugClass.WRONG_SHAPE: "a result shape no reduction explains, or a result far larger than expected (refused unread)",
    BugClass.RAISES: "an exception (an axis error hints at `--layout`)",
    BugClass.TIMEOUT: "a call did not return within `--timeout` (the worker process is killed)",
    BugClass.CRASHED: "the worker process died: `crashed (signal 6)`, `crashed (exit code 3)`",
    BugClass.BAD_RETURN: "None, a tuple, a string, a complex number, ...",
    BugClass.MUTATES_INPUTS: "an input modified in place",
    BugClass.WRONG_VALUE: "no known bug explains the outputs; the maximum relative error is given",
}


def bug_class_table() -> str:
    """The docs' markdown table of every bug class, generated from :class:`BugClass`.

    >>> bug_class_table().splitlines()[2]
    '| `sign_flip` | returns −KL (or −2·KL) |'
    """
    rows = ["| `bug_class` | what it means |", "|---|---|"]
    rows += [f"| `{b.value}` | {_MEANING[b]} |" for b in BugClass]
    return "\n".join(rows)
