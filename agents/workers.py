"""Imports every module that registers a built-in worker skill."""

import fincopilot.agents.compliance_check  # noqa: F401
import fincopilot.agents.credit_lookup  # noqa: F401
import fincopilot.agents.report_summary  # noqa: F401
