"""`validate`: named checks over a spec, its matrix and (when given) its machines.

report.py    Check, ValidationReport, the runner (ok / skipped with how / failed)
offline.py   the checks themselves and `validate_spec`
"""

from oar_p2p.checks.offline import CHECK_NAMES, validate_spec
from oar_p2p.checks.report import Check, CheckStatus, Facts, ValidationReport

__all__ = ["CHECK_NAMES", "Check", "CheckStatus", "Facts", "ValidationReport", "validate_spec"]
