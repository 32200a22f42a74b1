"""Reader-facing tests: the built handbook in a real browser (Debian's chromium, Playwright)."""
