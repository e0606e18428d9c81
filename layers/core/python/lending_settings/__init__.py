"""The service's settings: read from the environment once, typed, checked (the one reader of os.environ).

Typing and conversion are msgspec's (`msgspec.convert`, strings in, typed fields out); the rules
that tie settings together are in `Settings.__post_init__`. A bad value stops start-up with a
`ConfigError` naming the variable, never the value of a secret. Settings held in AWS come in
through `lending_settings.references` (the host installs a resolver; see lending_aws).
"""

from lending_settings.model import REQUIRED_BY_LAYER, ConfigError, MigrationSettings, Settings
from lending_settings.reader import from_env, migration_settings, settings, use_resolver
from lending_settings.references import references

__all__ = ["REQUIRED_BY_LAYER", "ConfigError", "MigrationSettings", "Settings", "from_env", "migration_settings",
           "references", "settings", "use_resolver"]
