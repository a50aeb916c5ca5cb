"""Where a library's files come from: a PyPI release or a git repository at a pinned commit."""
