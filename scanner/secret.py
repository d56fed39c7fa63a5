"""A credential held in memory or read from the environment on use, never shown in logs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from scanner.errors import ConfigError


class Secret:
    """A credential that never shows itself in repr, str, logs or tracebacks.

    Either a value held in memory (`Secret("...")`, the demo and tests), or the name of an
    environment variable read only when the key is used (`Secret.from_env`): loading a
    config never reads a key, so commands that send no request need none set.
    """

    __slots__ = ("_value", "_variable", "_env", "_missing")

    def __init__(self, value: str) -> None:
        self._value: str | None = value
        self._variable: str | None = None
        self._env: Mapping[str, str] | None = None
        self._missing: str | Callable[[], str] = ""

    @classmethod
    def from_env(cls, variable: str, missing: str | Callable[[], str],
                 env: Mapping[str, str] | None = None) -> Secret:
        """The key held by `variable` in `env` (default: os.environ, read at use).

        `missing` is the one-line ConfigError message (or makes it) when the variable is
        unset or empty; it names the variable and the fix, never a value.
        """
        secret = cls.__new__(cls)
        secret._value = None
        secret._variable = variable
        secret._env = env
        secret._missing = missing
        return secret

    @property
    def variable(self) -> str | None:
        """The environment variable the key is read from (None for a value in memory)."""
        return self._variable

    @property
    def missing(self) -> str | None:
        """The one-line error when the key cannot be read now, else None."""
        if self._variable is None:
            return None
        env = os.environ if self._env is None else self._env
        if env.get(self._variable):
            return None
        return self._missing if isinstance(self._missing, str) else self._missing()

    def check(self) -> None:
        """Raise ConfigError (exit 2) naming the variable and the fix when it is unset."""
        message = self.missing
        if message is not None:
            raise ConfigError(message)

    def reveal(self) -> str:
        """Return the secret; call only where it goes into a request header."""
        if self._value is not None:
            return self._value
        assert self._variable is not None
        env = os.environ if self._env is None else self._env
        value = env.get(self._variable)
        if not value:
            self.check()
            raise ConfigError(f"environment variable {self._variable} is not set")
        return value

    def __repr__(self) -> str:
        if self._variable is not None:
            return f"Secret(env={self._variable!r})"
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return False
        if self._variable is not None or other._variable is not None:
            return self._variable == other._variable and self._env is other._env
        return other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value if self._variable is None else ("env", self._variable))
