"""Each f-GAN bound, maximised on N(0, 1) vs N(1, 1), against the closed-form divergence.

Usage (from the repository root):
    python benchmarks/fgan_estimates.py
The protocol (critic, steps, batch, evaluation samples) is the one `tests/test_fgan_estimates.py` asserts
within 10 %; this prints the numbers.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tests.test_fgan_estimates import CLOSED_FORM, _estimate  # noqa: E402

if __name__ == "__main__":
    print("| divergence | estimate | closed form | relative error |\n|---|---|---|---|")
    for kind in sorted(CLOSED_FORM):
        est, ref = _estimate(kind), CLOSED_FORM[kind]
        print(f"| {kind} | {est:.4f} | {ref:.4f} | {100 * (est / ref - 1):+.1f} % |")
