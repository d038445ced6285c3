"""Exception types shared by the whole package.

Every error raised for bad user input names the clip, the file, what was expected and what was found, so the
message alone tells a researcher what to fix.
"""

from __future__ import annotations

from pathlib import Path


class VrbenchError(Exception):
    """Base class of every error vrbench raises on purpose."""


class InputError(VrbenchError, ValueError):
    """Bad user input: a file, a folder, a config value. The message says what was expected and what was found."""

    def __init__(
        self,
        problem: str,
        *,
        clip: str | None = None,
        dataset: str | None = None,
        file: str | Path | None = None,
        expected: object = None,
        found: object = None,
        hint: str | None = None,
    ) -> None:
        self.problem, self.clip, self.dataset, self.file = problem, clip, dataset, file
        self.expected, self.found, self.hint = expected, found, hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.clip is not None:
            where.append(f"clip '{self.clip}'" + (f" of {self.dataset}" if self.dataset else ""))
        elif self.dataset is not None:
            where.append(f"dataset '{self.dataset}'")
        if self.file is not None:
            where.append(f"file {self.file}")
        text = self.problem + (f" ({', '.join(where)})" if where else "")
        # a field that was not given is left out, never printed as "None"
        said = [f"{label} {value}" for label, value in (("expected", self.expected), ("found", self.found))
                if value is not None and not (isinstance(value, str) and not value)]
        if said:
            text += ": " + ", ".join(said)
        if self.hint:
            text += f". {self.hint}"
        return text


class UnknownNameError(VrbenchError, KeyError):
    """A registry lookup failed; the message lists close matches."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class MetricUnavailable(VrbenchError):
    """A metric cannot run here (weights or a package missing). The run records the reason and goes on."""

    def __init__(self, metric: str, reason: str, files: tuple[str, ...] = ()) -> None:
        self.metric, self.reason, self.files = metric, reason, files
        super().__init__(f"metric '{metric}' is unavailable: {reason}")


class MethodError(VrbenchError):
    """A method failed on a clip. The run records it and goes on with the next clip."""
