"""The red-team rounds' shared vocabulary: symbols, patterns and a few expressions.

One definition, imported by every round file that uses them (a symbol is the
same object in every file, so a derivation built in one file and checked in
another meets no name clash).
"""

from __future__ import annotations

import sympy as sp

from elbo_check.rules import axiom, inequality, integrability

__all__ = [
    "ABSURD",
    "CUBE_ROOT_M1",
    "GAUSS",
    "INTEG",
    "K2",
    "NONNEG_WILD",
    "QZ",
    "RAMANUJAN",
    "RAMANUJAN_CEIL",
    "VR",
    "K",
    "Kp",
    "L",
    "R",
    "V",
    "W",
    "a",
    "f_pos",
    "k",
    "kp",
    "n",
    "p",
    "q",
    "s",
    "t",
    "tp",
    "u",
    "w",
    "x",
    "y",
    "z",
]

x, y = sp.symbols("x y", real=True)
s, p = sp.symbols("s p", positive=True)
t, u, z, w, k = sp.symbols("t u z w k", real=True)
a = sp.Symbol("a", real=True)
tp = sp.Symbol("tp", positive=True)
kp = sp.Symbol("kp", positive=True)
n = sp.Symbol("n", integer=True)
K = sp.Symbol("K", real=True)
K2 = sp.Symbol("K2", real=True)
L = sp.Symbol("L", real=True)
Kp = sp.Symbol("Kp", positive=True)
q = sp.Function("q", positive=True)
f_pos = sp.Function("f", positive=True)
V = sp.Wild("v")
VR = sp.Wild("VR", real=True)  # a definition holds for the arguments its pattern admits
W = sp.Wild("w", positive=True)
R = sp.oo
CUBE_ROOT_M1 = (-1) ** sp.Rational(1, 3)  # a complex constant built from fragment nodes only
NONNEG_WILD = inequality("non-negative", sp.Wild("v", nonnegative=True), "v >= 0")
ABSURD = axiom("absurd", sp.log(s), sp.Integer(0))
INTEG = integrability("all expectations are finite")
GAUSS = sp.Integral(sp.exp(-(z**2)), (z, -R, R))
QZ = sp.Integral(q(z), (z, -R, R))
#: exp(pi sqrt(163)) = 262537412640768744 - 7.4993e-13 (Ramanujan's constant)
RAMANUJAN = sp.exp(sp.pi * sp.sqrt(163))
RAMANUJAN_CEIL = 262537412640768744
