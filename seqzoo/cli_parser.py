"""The `seqzoo` training commands' argument parser: LightningCLI's, with its errors in a few lines."""

from __future__ import annotations

import sys
from typing import Any, NoReturn


def parser_class() -> type:
    """LightningCLI's parser, with errors in a few lines instead of after the whole usage block."""
    from lightning.pytorch.cli import LightningArgumentParser

    class SeqzooArgumentParser(LightningArgumentParser):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("prog", "seqzoo")  # also when run as `python -m seqzoo.cli`
            super().__init__(*args, **kwargs)

        def error(self, message: str, ex: Exception | None = None) -> NoReturn:
            if not self.exit_on_error:  # a caller that catches the ArgumentError keeps jsonargparse's
                super().error(message, ex)
            parser = getattr(ex, "subcommand_parser", None) or self
            command = parser.prog.replace(" [options]", "")
            first, *more = error_lines(message)
            sys.stderr.write("".join([f"{command}: error: {first}\n", *(f"  {line}\n" for line in more)]))
            sys.stderr.write(f"`{command} --help` lists every option\n")
            self.exit(2)

    return SeqzooArgumentParser


def error_lines(message: str) -> list[str]:
    """jsonargparse's message, one line per complaint. For a value that fits none of a Union's types it
    lists the types tried, `None` among them, and the value's repr: keep the key and what each real
    candidate said (an unknown option, a value of the wrong type)."""
    lines = [line for line in message.splitlines() if line.strip()]
    if not any(line.strip() == "Errors:" for line in lines):
        return [" ".join(line.strip() for line in lines)]
    complaints: list[str] = []
    given = ""
    inside = False
    for line in lines[1:]:
        text = line.strip()
        if text == "Errors:" or text.startswith("Given value"):
            inside = text == "Errors:"
            given = text.removeprefix("Given value: ") if text.startswith("Given value: ") else given
        elif inside and text.startswith("- "):
            complaints.append(text[2:])
        elif inside and complaints:
            complaints[-1] += f" {text}"
    real = [c for c in complaints if c != "Expected a <class 'NoneType'>"]
    unique = list(dict.fromkeys(c.split("': ", 1)[-1] for c in real))  # same complaint, other class
    kept = [next(c for c in real if c.endswith(reason)) for reason in unique] or [""]
    quoted = (f"'{given}'", f"value: {given}")  # where a complaint already shows the value
    if given and not given.startswith("NestedArg(") and not any(q in c for q in quoted for c in kept):
        kept[0] += f" (given: {given})"
    return [f"{lines[0].strip()} {kept[0]}".strip(), *kept[1:]]
