"""API keys: a value that never shows itself, and the checks that refuse a key's place or
shape without ever echoing what was given."""

from __future__ import annotations

import re

from pik_recon.errors import ConfigError

# An environment variable's name, in capitals: PIK's keys (sk_live_...) are lower-case.
KEY_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
# What an API key may hold: visible ASCII, nothing an HTTP header cannot carry.
KEY_CHARACTERS = re.compile(r"[\x21-\x7e]+")


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks; `name` is where it
    came from (the environment variable), which may be shown."""

    __slots__ = ("_value", "name")

    def __init__(self, value: str, name: str = "PIK_API_KEY") -> None:
        self._value = value
        self.name = name

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def check_key_env(where: str, value: object) -> str:
    """`value` as the name of the variable holding a key; anything else is refused without
    showing it, since a value that is no variable's name may be the key itself."""
    if value is None:
        raise ConfigError(f"config {where} needs key_env, the name of the environment "
                          "variable holding the account's API key, e.g. \"PIK_KEY_BRAND_A\"")
    if not isinstance(value, str) or not KEY_ENV_NAME.fullmatch(value):
        raise ConfigError(f"config {where} key_env: expected the name of the environment "
                          "variable holding the account's API key, in capitals, e.g. "
                          "\"PIK_KEY_BRAND_A\"; the value given is not one and is not shown, "
                          "since it may be a key. The key itself goes in that variable, never "
                          "in the file")
    return value


def check_key(key: Secret, who: str = "") -> Secret:
    """Refuse a key holding what no key holds (a line break, a space, a control or non-ASCII
    character), naming its variable and the character's place, never the key."""
    value = key.reveal()
    if KEY_CHARACTERS.fullmatch(value):
        return key
    position, char = next((i, c) for i, c in enumerate(value, start=1)
                          if not KEY_CHARACTERS.fullmatch(c))
    kind = ("a line break" if char in "\r\n" else "a space" if char == " "
            else "a control character" if char.isascii() else "a non-ASCII character")
    raise ConfigError(f"The PIK API key{who} in {key.name} holds {kind} (character {position} "
                      f"of {len(value)}), which no API key has; set {key.name} to the key "
                      "alone, as PIK shows it (the key is not shown here).")
