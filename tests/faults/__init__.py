"""The hardening suite: simulator faults, kill -9 trials, credential safety."""
