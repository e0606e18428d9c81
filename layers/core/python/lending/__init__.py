"""The lending domain: books, loans, purchases and the use cases that move them.

Nothing in this package imports a vendor library; adapters for PostgreSQL, Stripe,
OIDC and logging live in their own layers and are handed in through the ports.
"""
