"""Settings held in AWS (Secrets Manager, SSM Parameter Store), read once when a host starts.

`bootstrap()` is what a host calls before serving: with no reference in the environment it does
nothing (and boto3 is never imported); otherwise it installs `AwsResolver` into lending_settings
and reads the settings at once, so a missing or unreadable secret stops start-up with a
ConfigError naming the variable, never the value.
"""

from lending_aws.resolver import AwsResolver, SettingUnreadable, bootstrap

__all__ = ["AwsResolver", "SettingUnreadable", "bootstrap"]
