"""Problems found in a dataset: each names the file, what is wrong and how to fix it.

Errors block training; warnings and notes do not. Nothing in the dataset code raises out to the
user: every failure becomes a `Problem` in a `Report`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

ERROR, WARNING, NOTE = "error", "warning", "note"
MANY = 50


@dataclass(frozen=True)
class Problem:
    file: str
    problem: str
    fix: str
    level: str = ERROR

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("level")
        return d

    def __str__(self) -> str:
        return f"{self.file}: {self.problem} Fix: {self.fix}"


@dataclass
class Report:
    root: Path
    problems: list[Problem] = field(default_factory=list)

    def add(self, file, problem: str, fix: str, level: str = ERROR, many: int = MANY) -> None:
        "One problem per file; past `many` files, the rest in one entry so a report stays readable."
        files = list(file) if isinstance(file, (list, tuple)) else [file]
        for f in files[:many]:
            self.problems.append(Problem(self.name(f), problem, fix, level))
        if len(files) > many:
            rest = f"{self.name(files[many])} (and {len(files) - many - 1} more)"
            self.problems.append(Problem(rest, problem, fix, level))

    def error(self, file, problem: str, fix: str) -> None:
        self.add(file, problem, fix, ERROR)

    def warning(self, file, problem: str, fix: str, many: int = MANY) -> None:
        self.add(file, problem, fix, WARNING, many)

    def note(self, file, problem: str, fix: str = "Nothing to do.") -> None:
        "Notes are about many files at once (every grayscale image): one entry for all."
        files = list(file) if isinstance(file, (list, tuple)) else [file]
        name = self.name(files[0]) + (f" (and {len(files) - 1} more)" if len(files) > 1 else "")
        if len(files) > 1:
            problem = f"{len(files)} files: {problem[0].lower()}{problem[1:]}"
        self.problems.append(Problem(name, problem, fix, NOTE))

    def name(self, file) -> str:
        """A path relative to the dataset root, the way the user sees their folder; a stack's slice with its
        index, `stack.tif[z=12]`."""
        from seg.data.stacks import labelled
        p = Path(file)
        if p == self.root:
            return str(p)
        try:
            return labelled(file, p.relative_to(self.root).as_posix())
        except ValueError:
            return labelled(file, str(p))

    def of(self, level: str) -> list[Problem]:
        return [p for p in self.problems if p.level == level]

    @property
    def errors(self) -> list[Problem]:
        return self.of(ERROR)

    @property
    def warnings(self) -> list[Problem]:
        return self.of(WARNING)

    @property
    def notes(self) -> list[Problem]:
        return self.of(NOTE)

    @property
    def ok(self) -> bool:
        return not self.errors
