"""FinCopilot: multi-agent financial copilots.

A planner model turns an advisor's request into a validated plan (a DAG of skill steps);
small worker agents run the steps with traditional risk models as tools; an arena scores
backends per skill and the router sends each skill to the best one.
"""

__version__ = "0.1.0"
