"""Event types, event bus (in-process or Redis), outbox relay, Web Push and subscription fan-out.

Imports nothing from :mod:`backend`.
"""
