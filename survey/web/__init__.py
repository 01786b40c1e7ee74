"""What every blueprint shares: error pages, security headers, locale, rate limits, static
files and the health checks."""
