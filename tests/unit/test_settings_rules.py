"""Every rule `lending_settings` holds a setting to: a value past it stops start-up with a ConfigError
naming the variable, and the value at its edge is taken. The defaults pass every rule.

Each host reads its settings before it serves (tests/vm/test_lifecycle_and_edge.py, the Lambda entry,
make run), so a rule here is what an operator sees when a setting is wrong.
"""

from __future__ import annotations

import pytest

from lending_settings import ConfigError, Settings, from_env

# (variable, a value the rule refuses, what the error says, the value at the rule's edge, taken)
RULES = [
    ("APP_ENV", "staging", "APP_ENV must be one of", "test"),
    ("LOG_LEVEL", "verbose", "LOG_LEVEL must be one of", "debug"),
    ("DATABASE_URL", "mysql://u@db/lending", "DATABASE_URL must be a postgresql:// URL", "postgres://u@db/lending"),
    ("OIDC_ALGORITHMS", "RS256,HS256", "OIDC_ALGORITHMS may list only asymmetric", "ES512"),
    ("OIDC_ALGORITHMS", "RS256,EdDSA", "OIDC_ALGORITHMS may list only RS256", "PS384"),
    ("OIDC_JWKS_TTL_SECONDS", "0", "OIDC_JWKS_TTL_SECONDS must be positive", "1"),
    ("OIDC_JWKS_MIN_REFRESH_SECONDS", "-1", "OIDC_JWKS_MIN_REFRESH_SECONDS not negative", "0"),
    ("OIDC_LEEWAY_SECONDS", "301", "OIDC_LEEWAY_SECONDS must be between 0 and 300", "300"),
    ("OIDC_LEEWAY_SECONDS", "-1", "OIDC_LEEWAY_SECONDS must be between 0 and 300", "0"),
    ("DATABASE_READ_MAX_LAG_SECONDS", "0", "DATABASE_READ_MAX_LAG_SECONDS must be positive", "0.5"),
    ("STRIPE_TIMEOUT_SECONDS", "60.5", "STRIPE_TIMEOUT_SECONDS must be in (0, 60]", "60"),
    ("STRIPE_TIMEOUT_SECONDS", "0", "STRIPE_TIMEOUT_SECONDS must be in (0, 60]", "0.1"),
    ("STRIPE_PUBLISHABLE_KEY", "sk_test_secret", "STRIPE_PUBLISHABLE_KEY must be a publishable key", "pk_test_1"),
    ("DATABASE_SSLMODE", "verify", "DATABASE_SSLMODE must be one of disable, allow, prefer, require, verify-ca, verify-full",
     "allow"),
    ("DB_POOL_SIZE", "0", "DB_POOL_SIZE must be at least 1", "1"),
    ("OIDC_JWKS_MAX_STALE", "-PT1S", "OIDC_JWKS_MAX_STALE must not be negative", "PT0S"),
    ("RECONCILE_RETRY_FIRST", "-PT1S", "RECONCILE_RETRY_FIRST must not be negative", "PT0S"),
    ("RECONCILE_RETRY_MAX", "-PT1S", "RECONCILE_RETRY_MAX must not be negative", "PT0S"),
    ("DB_STATEMENT_TIMEOUT", "-PT1S", "DB_STATEMENT_TIMEOUT must not be negative", "PT0S"),
    ("DB_LOCK_TIMEOUT", "-PT1S", "DB_LOCK_TIMEOUT must not be negative", "PT0S"),
    ("REQUEST_BUDGET", "PT29S", "REQUEST_BUDGET must be positive and under 29 s", "PT28.9S"),
    ("REQUEST_BUDGET", "PT0S", "REQUEST_BUDGET must be positive and under 29 s", "PT0.1S"),
    ("MAX_HOLDS_PER_PATRON", "0", "MAX_HOLDS_PER_PATRON must be at least 1", "1"),
    ("HOLD_PICKUP_PERIOD", "PT0S", "HOLD_PICKUP_PERIOD must be positive", "PT1S"),
    ("MAX_RENEWALS", "-1", "MAX_RENEWALS must not be negative", "0"),
    ("LOAN_PERIOD", "PT0S", "LOAN_PERIOD must be positive", "PT1S"),
    ("IDEMPOTENCY_RETENTION", "PT0S", "IDEMPOTENCY_RETENTION must be positive", "PT1S"),
    ("PROCESSOR_EVENT_RETENTION", "PT0S", "PROCESSOR_EVENT_RETENTION must be positive", "PT1S"),
    ("RETENTION_BATCH_SIZE", "0", "RETENTION_BATCH_SIZE must be at least 1", "1"),
    ("LATE_FEE_CENTS", "-1", "LATE_FEE_CENTS and MAX_BALANCE_CENTS must not be negative", "0"),
    ("MAX_BALANCE_CENTS", "-1", "LATE_FEE_CENTS and MAX_BALANCE_CENTS must not be negative", "0"),
    ("FEE_INTERVAL", "PT0S", "FEE_INTERVAL must be positive", "PT1S"),
    ("LOST_AFTER", "PT0S", "LOST_AFTER must be positive", "PT1S"),
    ("FEE_GRACE_PERIOD", "-PT1S", "FEE_GRACE_PERIOD must not be negative", "PT0S"),
    ("BLOCK_OVERDUE_AFTER", "-PT1S", "BLOCK_OVERDUE_AFTER must not be negative", "PT0S"),
    ("JOBS_INTERVAL", "PT0S", "JOBS_INTERVAL must be positive", "PT1S"),
    ("MAX_IMPORT_BYTES", "0", "MAX_IMPORT_BYTES, IMPORT_BATCH_SIZE and IMPORT_BORROW_FEE_CENTS must be positive", "1"),
    ("IMPORT_BATCH_SIZE", "0", "MAX_IMPORT_BYTES, IMPORT_BATCH_SIZE and IMPORT_BORROW_FEE_CENTS must be positive", "1"),
    ("IMPORT_BORROW_FEE_CENTS", "0", "MAX_IMPORT_BYTES, IMPORT_BATCH_SIZE and IMPORT_BORROW_FEE_CENTS must be positive",
     "1"),
    ("REMINDER_BEFORE_DUE", "PT0S", "REMINDER_BEFORE_DUE must be positive", "PT1S"),
    ("OVERDUE_SECOND_NOTICE_AFTER", "PT0S", "OVERDUE_SECOND_NOTICE_AFTER must be positive", "PT1S"),
    ("NOTICE_RETRY_FIRST", "PT0S", "NOTICE_RETRY_FIRST must be positive", "PT1S"),
    ("NOTICE_RETRY_MAX", "PT0S", "NOTICE_RETRY_MAX must be positive", "PT1S"),
    ("NOTICE_MAX_ATTEMPTS", "0", "NOTICE_MAX_ATTEMPTS and NOTICE_BATCH_SIZE must be at least 1", "1"),
    ("NOTICE_BATCH_SIZE", "0", "NOTICE_MAX_ATTEMPTS and NOTICE_BATCH_SIZE must be at least 1", "1"),
    ("SMTP_URL", "http://mail.example", "SMTP_URL must be smtp://, smtp+starttls:// or smtps://", "smtps://mail.example"),
    ("MAIL_FROM", "@example.org", "MAIL_FROM must be an address", "a@example.org"),
    ("PUBLIC_BASE_URL", "ftp://library.example", "PUBLIC_BASE_URL must be an http(s) URL", "https://library.example"),
    ("LIBRARY_TIMEZONE", "Europe/Atlantis", "LIBRARY_TIMEZONE: no time zone 'Europe/Atlantis'", "Europe/London"),
    ("LIBRARY_TIMEZONE", "../../etc/passwd", "LIBRARY_TIMEZONE: no time zone", "America/Argentina/Buenos_Aires"),
]


@pytest.mark.parametrize(("variable", "refused", "says", "edge"), RULES, ids=[f"{r[0]}={r[1]}" for r in RULES])
def test_a_setting_past_its_rule_stops_start_up_naming_it_and_its_edge_is_taken(
        variable: str, refused: str, says: str, edge: str) -> None:
    with pytest.raises(ConfigError) as refusal:
        from_env({variable: refused}, layers=())
    assert says in str(refusal.value)
    assert variable in str(refusal.value)
    assert isinstance(from_env({variable: edge}, layers=()), Settings)


# (variable, what production refuses, the production value it takes)
PRODUCTION_RULES = [
    ("OIDC_ISSUER", "http://issuer.example", "https://issuer.example"),
    ("STRIPE_API_BASE", "http://127.0.0.1:8420", ""),
    ("STRIPE_WEBHOOK_SECRET", "", "whsec_1"),
    ("STRIPE_JS_URL", "http://127.0.0.1/stripe.js", "https://js.stripe.com/v3/"),
]
PRODUCTION = {"APP_ENV": "production", "OIDC_ISSUER": "https://issuer.example", "STRIPE_API_KEY": "sk_live_1",
              "STRIPE_WEBHOOK_SECRET": "whsec_1"}


@pytest.mark.parametrize(("variable", "refused", "taken"), PRODUCTION_RULES, ids=[r[0] for r in PRODUCTION_RULES])
def test_a_dev_convenience_cannot_be_switched_on_in_production(variable: str, refused: str, taken: str) -> None:
    with pytest.raises(ConfigError) as refusal:
        from_env({**PRODUCTION, variable: refused}, layers=())
    assert variable in str(refusal.value) and "production" in str(refusal.value)
    assert from_env({**PRODUCTION, variable: taken}, layers=()).is_production
    from_env({variable: refused}, layers=())  # the same value is a developer's to use outside production


def test_the_defaults_pass_every_rule() -> None:
    assert from_env({}, layers=()) == Settings()
