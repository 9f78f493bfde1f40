"""Audience profiles: the target audiences (ICPs) a creator writes for."""
