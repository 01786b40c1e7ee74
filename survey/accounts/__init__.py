"""Staff accounts: users, passwords, second factors, permissions and the audit log."""
