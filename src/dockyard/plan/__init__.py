"""Desired state, plans as values, and the diff between desired and actual."""

from dockyard.plan.desired import desire
from dockyard.plan.diff import plan
from dockyard.plan.model import ActualState, DesiredState, FieldChange, Plan, Step

__all__ = ["ActualState", "DesiredState", "FieldChange", "Plan", "Step", "desire", "plan"]
