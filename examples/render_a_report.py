"""A notebook-style script: prove your own derivation and render it as a report.

Run ``python examples/render_a_report.py OUT_DIR``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(out: str) -> int:
    here = Path(__file__).parent
    cmd = [sys.executable, "-m", "elbo_check", "report", "--file", str(here / "my_derivation.py")]
    cmd += ["--out", out, "--format", "html,md"]
    return subprocess.run(cmd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "elbo-report"))
