"""Hostile KL targets for the isolation tests: each misbehaves at the process level.

Plain module-level functions, so the validator sends them to its worker
process by name.  Importing this module has no side effects.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

import numpy as np

__all__ = [
    "aborts",
    "c_level_hang",
    "exits",
    "forks_a_child_that_carries_on",
    "huge_list",
    "huge_result",
    "looping_array",
    "prints_a_lot",
    "segfaults",
    "vae_batch",
    "writes_to_fd_1",
]


def vae_batch(mu, logvar):
    """A correct (N, D) -> (N,) KL."""
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)


def exits(mu, logvar):
    os._exit(3)


def aborts(mu, logvar):
    os.abort()


def segfaults(mu, logvar):
    os.kill(os.getpid(), signal.SIGSEGV)


def c_level_hang(mu, logvar):
    """One C call that holds the GIL for hours: ``sum`` over 10¹⁵ integers."""
    return sum(range(10**15))


def huge_result(mu, logvar):
    """A result 10⁷ times larger than the batch (80 MB), of the wrong shape."""
    return np.zeros((mu.shape[0], 10**7))


def huge_list(mu, logvar):
    return [0.0] * (5 * 10**7)


class _Looping:
    def __array__(self, dtype=None, copy=None):
        while True:
            pass


def looping_array(mu, logvar):
    return _Looping()


def prints_a_lot(mu, logvar):
    """5 MB per call, through print, sys.__stdout__ and fd 2."""
    print("x" * (5 * 10**6))
    sys.__stdout__.write("from sys.__stdout__\n")
    os.write(2, b"to fd 2\n")
    return vae_batch(mu, logvar)


def writes_to_fd_1(mu, logvar):
    os.write(1, b'{"ok": "corrupted"}\n')
    libc = ctypes.CDLL(None)
    libc.printf(b"from C printf\n")
    return vae_batch(mu, logvar)


def forks_a_child_that_carries_on(mu, logvar):
    if os.fork() == 0:  # the child sleeps on, holding whatever it inherited
        os.execvp("sleep", ["sleep", "300"])
    return vae_batch(mu, logvar)
