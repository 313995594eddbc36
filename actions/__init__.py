"""Actions that flow steps call: automatic checks and escalation."""
