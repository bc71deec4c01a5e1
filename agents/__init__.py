"""Agents: the planner, the worker skills it can call, and the synthesizer."""

from fincopilot.agents.skills import Skill, SkillContext, get_skill, list_skills, skill

__all__ = ["Skill", "SkillContext", "get_skill", "list_skills", "skill"]
