"""One ``--help`` style for every command.

Plain option names with an upper-case placeholder (``--data DATA``, never a type tag such as
``<str>``), arguments written the same way in the usage line and the list (``IMAGES...``,
``[MODEL]`` when optional), defaults shown once as ``[default: X]`` with X the config
dataclass's value, and click's plain layout, which wraps at 80 columns at most.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


def placeholder(param: Any) -> str:
    """``--data DATA``: named after the option (its last, shortest alias), or the argument."""
    if param.metavar:
        return param.metavar
    longs = [opt for opt in param.opts if opt.startswith("--")]
    name = longs[-1][2:] if longs else param.name
    return name.upper().replace("-", "_")


def _argument_usage(param: Any) -> str:
    name = placeholder(param) + ("..." if param.nargs != 1 else "")
    return name if param.required else f"[{name}]"


def _flag_default(param: Any) -> str | None:
    """A plain flag is off unless given; an --x/--no-x pair names the side that applies."""
    if not param.secondary_opts:
        return None
    value = param.show_default if isinstance(param.show_default, str) else param.default
    if value is None:
        return None
    on = value is True or str(value).lower() in ("true", "1")
    return param.opts[-1] if on else param.secondary_opts[-1]


def default_text(param: Any) -> str | None:
    """The default as ``[default: ...]`` shows it, or None when there is nothing to say."""
    if getattr(param, "is_flag", False):
        return _flag_default(param)
    if isinstance(param.show_default, str):
        return param.show_default
    value = param.default
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return None if value in (None, "") else str(value)


def _help_record(param: Any) -> tuple[str, str]:
    if param.param_type_name == "argument":
        name = placeholder(param) + ("..." if param.nargs != 1 else "")
    else:
        name = ", ".join(param.opts)
        if param.secondary_opts:
            name += " / " + ", ".join(param.secondary_opts)
        if not param.is_flag:
            name += " " + placeholder(param)
    extra = []
    default = default_text(param) if param.param_type_name == "option" else None
    if default is not None:
        extra.append(f"default: {default}")
    if param.required and param.param_type_name == "option":
        extra.append("required")
    text = param.help or ""
    return name, f"{text}  [{'; '.join(extra)}]" if extra else text


class HelpCommand(TyperCommand):
    """A command whose --help follows the module's style."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [self.options_metavar or "", *(_argument_usage(p) for p in self.get_params(ctx)
                                              if p.param_type_name == "argument")]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        super(TyperCommand, self).format_help(ctx, formatter)  # click's plain layout, not rich panels

    def format_options(self, ctx: Any, formatter: Any) -> None:
        for title, kind in (("Arguments", "argument"), ("Options", "option")):
            rows = [_help_record(p) for p in self.get_params(ctx) if p.param_type_name == kind and not p.hidden]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class HelpGroup(TyperGroup):
    """``edgefer --help`` and the sub-command groups, in the same plain layout."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        super(TyperGroup, self).format_help(ctx, formatter)


class StyledTyper(typer.Typer):
    """A typer application whose commands and groups all use the help style above."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=HelpGroup, **kwargs)

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or HelpCommand, **kwargs)
