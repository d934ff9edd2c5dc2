"""Named comparisons, each page's default: see :mod:`core.kinds.compare.presets`.

The presets live beside the comparison so that its ``compare --preset`` verb can read them without
importing upwards; this module keeps the name pages, tests and benches have always used.
"""

from core.kinds.compare.presets import PAIR_RULES, PRESETS, Preset, pairs_for, preset

__all__ = ["PAIR_RULES", "PRESETS", "Preset", "pairs_for", "preset"]
