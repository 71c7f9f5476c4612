"""The one exception the toolkit raises for a user's mistake or a machine's problem."""


class ToolkitError(Exception):
    """What went wrong, and how to fix it; tasks turn it into `Exit` without a traceback."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}: {self.fix}" if self.fix else self.problem
