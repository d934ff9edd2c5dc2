"""The comparison: the same tasks on several engines (arms), measured together, decided with confidence.

This is the lab's main kind of measurement: every experiment page, the presets, the ``compare`` verb
and the benches use it. The arms are measured in interleaved rounds (:mod:`core.measure.rounds`), so
they saw the same machine; every arm is compared with the first one (the baseline, usually ``sync``)
round by round; the paired speedups give a point estimate, a 95 % interval and a verdict
(:mod:`core.measure.stats`): ``faster``, ``not-faster``, ``same``, ``not-slower``, ``slower`` or
``undecided``, with the bound the claim states. Besides, the pairs a page teaches (``CompareSpec.pairs``:
processes against threads, say) get verdicts of their own from the same rounds (``pair_verdicts``), and
they come first wherever the comparison is shown: they answer the page's own question. What is shown, said and
written to JSON all come from those verdicts, so the sentence under a chart can never claim more than
the interval supports.

Two more guards against a wrong lesson:

* **A busy machine.** Other programs' CPU is read between runs (:mod:`core.measure.noise`). A ``same``,
  ``not-faster`` or ``slower`` verdict for a parallel arm while they took a quarter core or more is what a busy
  machine produces whatever the code does (they took the CPU its lanes could have used), so it is
  shown as ``undecided`` with that reason. Only pure-Python work on threads that share one GIL, which
  can use one core at most anyway, keeps its ``same`` (unless it used all the CPU left to it).
* **An honest ideal.** The best possible wall time is built from the *shortest* task anyone measured
  (the lowest per-task CPU time of any arm; a sleep's own length): no arm can beat it, and an
  efficiency above 1 is reported as a measurement problem.

The package, by concern: :mod:`~core.kinds.compare.spec` (the arms and the spec),
:mod:`~core.kinds.compare.verdicts` (from rounds to verdicts, the ideal), :mod:`~core.kinds.compare.result`
(the result: JSON, frames, text), :mod:`~core.kinds.compare.words` (sentences), :mod:`~core.kinds.compare.charts`,
:mod:`~core.kinds.compare.run` (running it, its cost), :mod:`~core.kinds.compare.presets` (the named comparisons)
and :mod:`~core.kinds.compare.cli` (the ``compare`` verb, :data:`KIND`). Every name is importable from here.
"""

from __future__ import annotations

from core.kinds.compare.charts import (
    arm_colors,
    chart_label,
    has_external,
    runtime_ci_chart,
    speedup_ci_chart,
)
from core.kinds.compare.cli import (
    FUNCTION_ENGINES,
    KIND,
    CompareKind,
)
from core.kinds.compare.result import (
    ComparisonResult,
    float_or_nan,
    stop_words,
)
from core.kinds.compare.run import (
    build_comparison,
    cost,
    run_compare,
)
from core.kinds.compare.spec import (
    ARM,
    DEFAULT_BUDGET_S,
    MAX_ARMS,
    Arm,
    CompareSpec,
    Rounds,
    parse_arm,
    parse_arms,
)
from core.kinds.compare.verdicts import (
    EFFICIENCY_TOLERANCE,
    Verdict,
    arm_cores,
    arm_verdict,
    ideal_wall,
    implausible_why,
    one_core_at_most,
    pair_verdicts_from,
    task_floor,
    verdicts_from,
)
from core.kinds.compare.words import (
    explain_comparison,
    pair_sentence,
)

__all__ = [
    "Arm",
    "CompareKind",
    "CompareSpec",
    "ComparisonResult",
    "DEFAULT_BUDGET_S",
    "EFFICIENCY_TOLERANCE",
    "FUNCTION_ENGINES",
    "KIND",
    "MAX_ARMS",
    "Rounds",
    "Verdict",
    "ARM",
    "arm_colors",
    "arm_cores",
    "chart_label",
    "has_external",
    "ideal_wall",
    "implausible_why",
    "float_or_nan",
    "one_core_at_most",
    "pair_sentence",
    "stop_words",
    "arm_verdict",
    "build_comparison",
    "cost",
    "explain_comparison",
    "pair_verdicts_from",
    "parse_arm",
    "parse_arms",
    "run_compare",
    "runtime_ci_chart",
    "speedup_ci_chart",
    "task_floor",
    "verdicts_from",
]
