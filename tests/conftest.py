"""Shared test configuration: hypothesis profiles and optional-library markers.

Profiles
--------
``ci`` (the default) is derandomized: the same examples every run, so the
suite is deterministic.  ``thorough`` runs many more random examples locally::

    pytest --hypothesis-profile=thorough
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")
