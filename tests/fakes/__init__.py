"""Reusable fakes of the outside world: Meta's Graph API and its webhook calls."""
