"""Batch evaluation: jobs, journal and resume, executors (local, Ray), history and regressions."""
