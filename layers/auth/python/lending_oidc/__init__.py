"""OIDC adapter: verifies ID tokens (cryptography's public-key primitives) against the issuer's published keys.

cryptography's exceptions never leave this package: a bad token is
`AuthenticationRequired`, an unreachable provider with no cached keys is
`IdentityProviderUnavailable`.
"""

from functools import lru_cache

from lending_oidc.keys import KeySet
from lending_oidc.verifier import LibrarianRule, OidcVerifier
from lending_settings import Settings

__all__ = ["KeySet", "LibrarianRule", "OidcVerifier", "verifier_from"]


@lru_cache(maxsize=4)
def verifier_from(settings: Settings) -> OidcVerifier:
    keys = KeySet(settings.oidc_issuer, ttl=settings.oidc_jwks_ttl_seconds,
                  min_refresh_interval=settings.oidc_jwks_min_refresh_seconds,
                  max_stale=settings.oidc_jwks_max_stale.total_seconds())
    rule = LibrarianRule(settings.oidc_groups_claim, settings.librarian_group, settings.librarian_subjects)
    return OidcVerifier(keys, audience=settings.oidc_audience, algorithms=settings.oidc_algorithms,
                        leeway_seconds=settings.oidc_leeway_seconds, librarians=rule)
