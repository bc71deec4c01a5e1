"""Imports every module that registers a built-in tool, so `list_tools()` sees them all."""

import fincopilot.tools.data  # noqa: F401  client_lookup, product_lookup, report_lookup
import fincopilot.tools.scorecard  # noqa: F401  credit_score
import fincopilot.tools.suitability  # noqa: F401  suitability_check
import fincopilot.tools.kb  # noqa: F401  kb_search
