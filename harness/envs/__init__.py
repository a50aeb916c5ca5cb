"""Environment backends (venv, docker) behind one interface; see ``harness.envs.base``."""
