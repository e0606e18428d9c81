"""Mail adapter (standard library smtplib): the lending.notice_model.Mailer port over SMTP.

Vendor errors never leave this package: every failure becomes MailRefused (temporary or not) or
MailUnavailable.
"""

from lending_mail.smtp import SmtpMailer, SmtpTarget, mailer_from, parse_smtp_url

__all__ = ["SmtpMailer", "SmtpTarget", "mailer_from", "parse_smtp_url"]
