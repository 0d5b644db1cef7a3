"""The explicit registry of batch drift tests: name -> (function, kinds it applies to, default threshold).

Registering is a line in ``STAT_TESTS`` below; importing a module never registers anything.

>>> sorted(STAT_TESTS)
['chi2', 'jensen_shannon', 'ks', 'psi', 'wasserstein']
>>> get_stat_test("ks").default_threshold
0.1
"""

from __future__ import annotations

from dataclasses import dataclass

from driftline.core.errors import DriftlineError
from driftline.datasets.schema import FeatureKind
from driftline.monitors.stattests.base import StatTestFn
from driftline.monitors.stattests.chi2 import DEFAULT_THRESHOLD as CHI2_T
from driftline.monitors.stattests.chi2 import chi2
from driftline.monitors.stattests.jensen_shannon import DEFAULT_THRESHOLD as JS_T
from driftline.monitors.stattests.jensen_shannon import jensen_shannon
from driftline.monitors.stattests.ks import DEFAULT_THRESHOLD as KS_T
from driftline.monitors.stattests.ks import ks
from driftline.monitors.stattests.psi import DEFAULT_THRESHOLD as PSI_T
from driftline.monitors.stattests.psi import psi
from driftline.monitors.stattests.wasserstein import DEFAULT_THRESHOLD as W_T
from driftline.monitors.stattests.wasserstein import wasserstein

__all__ = ["STAT_TESTS", "StatTestSpec", "get_stat_test"]

NUM, CAT = FeatureKind.NUMERIC, FeatureKind.CATEGORICAL


@dataclass(frozen=True)
class StatTestSpec:
    name: str
    fn: StatTestFn
    kinds: frozenset[FeatureKind]
    default_threshold: float
    has_p_value: bool
    effect: str  # what the threshold is compared with, for the report and the docs


STAT_TESTS: dict[str, StatTestSpec] = {
    "ks": StatTestSpec("ks", ks, frozenset({NUM}), KS_T, True, "KS statistic D"),
    "psi": StatTestSpec("psi", psi, frozenset({NUM, CAT}), PSI_T, False, "PSI"),
    "wasserstein": StatTestSpec("wasserstein", wasserstein, frozenset({NUM}), W_T, False, "W1 / reference std"),
    "jensen_shannon": StatTestSpec("jensen_shannon", jensen_shannon, frozenset({NUM, CAT}), JS_T, False, "JS distance"),
    "chi2": StatTestSpec("chi2", chi2, frozenset({CAT}), CHI2_T, True, "total variation distance"),
}


def get_stat_test(name: str) -> StatTestSpec:
    try:
        return STAT_TESTS[name]
    except KeyError:
        raise DriftlineError(
            f"Unknown drift test {name!r}.", f"Valid names: {', '.join(sorted(STAT_TESTS))}."
        ) from None
