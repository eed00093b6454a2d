"""The console logger of every run: Dagster's coloured console logger, which by default prints failures
without their stack traces (config `stack_traces: true`, or `subwh run --verbose`, prints them whole).

A failed step is one line naming the error (`Execution of step "x" failed: ValueError: ...`), and the
steps skipped after it are not listed one by one (Dagster logs one error per skipped step). The UI's
event log keeps every stack trace regardless: this only changes what a terminal shows.
"""

from __future__ import annotations

import logging

import dagster as dg
from dagster._core.utils import coerce_valid_log_level
from dagster._utils.log import create_console_logger

# The wrapper Dagster puts around a step's own error, and the lines of a trace: not the error itself.
_WRAPPERS = ("dagster._core.errors.DagsterExecutionStepExecutionError", "The above exception was caused by",
             "Stack Trace:")
_ERROR_PREFIXES = ("dagster._core.definitions.events.Failure: ",)


def one_line(message: str) -> str | None:
    """The message a terminal shows without stack traces; None for one not worth a line."""
    if "Dependencies for step" in message and "Not executing" in message:
        return None  # one per step skipped after a failure: the failure itself says it all
    if " - RUN_FAILURE - " in message:
        return None  # repeats the failed steps' errors
    lines = message.split("\n")
    if len(lines) == 1:
        return message
    causes = [line for line in lines[1:] if line.strip() and not line.startswith((" ", "\t"))
              and not line.startswith(_WRAPPERS)]
    if not causes:
        return lines[0]
    cause = causes[-1]  # the innermost error: what the step itself raised
    for prefix in _ERROR_PREFIXES:
        cause = cause.removeprefix(prefix)
    head = lines[0].rstrip()
    return f"{head[:-1]}: {cause}" if head.endswith(".") else f"{head} {cause}"


class _ShortFailures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        short = one_line(text)
        if short is None:
            return False
        if short != text:
            record.msg, record.args = short, ()
        return True


@dg.logger(
    {
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
        "name": dg.Field(str, is_required=False, default_value="dagster"),
        "stack_traces": dg.Field(bool, is_required=False, default_value=False,
                                 description="Print failures with their stack traces and every skipped step."),
    },
    description="Dagster's console logger; failures in one line unless stack_traces is set.",
)
def console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    config = init_context.logger_config
    logger = create_console_logger(config["name"], coerce_valid_log_level(config["log_level"]))
    if not config["stack_traces"]:
        logger.addFilter(_ShortFailures())
    return logger
