"""fieldrep application: settings, persistence, auth, GraphQL API, domain services and CLI.

May import :mod:`routing` and :mod:`notifications`; they never import it.
"""
