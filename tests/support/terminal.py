"""A real terminal for end-to-end tests: a tmux session on a socket of its own, keys in, the screen
read back as text, and waits on what the screen shows (never on time)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

from tests.support.wait import wait_until

SGR = re.compile(r"\x1b\[([0-9;]*)m")


class Terminal:
    def __init__(self, socket: str, session: str) -> None:
        self.socket = socket
        self.session = session

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20, check=False
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def focused(self, title: str) -> bool:
        """Whether the pane whose border carries `title` has the focus: Tessera draws the focused
        pane's title in bold (the text alone cannot tell; the styles tmux keeps can)."""
        for line in self.tmux("capture-pane", "-e", "-p", "-t", self.session).splitlines():
            at = line.find(title)
            if at < 0:
                continue
            codes: set[str] = set()
            for match in SGR.finditer(line[:at]):
                params = match.group(1).split(";") if match.group(1) else ["0"]
                if params == ["0"]:
                    codes.clear()  # a reset: only what follows styles the title
                codes.update(params)
            return "1" in codes
        return False

    def keys(self, *keys: str) -> None:
        """Type keys; the caller then waits for what they show before typing what depends on it."""
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)

    def wait_until(self, shows: Callable[[str], bool], timeout: float = 30, what: str = "") -> str:
        """Poll the screen until `shows(screen)` holds; return that screen, or fail showing the last."""
        last = [""]

        def check() -> bool:
            last[0] = self.screen()
            return shows(last[0])

        try:
            wait_until(check, timeout, 0.1, what)
        except AssertionError:
            raise AssertionError(f"{what} never held; the screen shows:\n{last[0]}") from None
        return last[0]

    def wait_for(self, text: str, timeout: float = 30) -> str:
        return self.wait_until(lambda screen: text in screen, timeout, f"{text!r} to appear")

    def wait_for_focus(self, title: str, timeout: float = 30) -> None:
        self.wait_until(lambda _screen: self.focused(title), timeout, f"the pane {title!r} to have the focus")

    def wait_for_gone(self, text: str, timeout: float = 30) -> str:
        return self.wait_until(lambda screen: text not in screen, timeout, f"{text!r} to go away")

    def kill(self) -> None:
        self.tmux("kill-server")
