"""The client's choice about rewriting: a request's ``prompt_optimizer`` (off, fast or reasoning), within
what the operator allows (``OptimizerSettings.client_modes``; the operator's own mode is always allowed).

A mode that needs the LLM (fast, reasoning) is allowed only when the optimizer has a vendor and a model.
A mode not allowed is refused (400, naming those that are) before anything is spent.
"""

from __future__ import annotations

from core.errors import GatewayError
from imagegen.models import OptimizerSettings
from imagegen.prompts import OptimizerConfig, optimizer_config

MODES = tuple(OptimizerSettings.Mode.values)  # off, fast, reasoning
_CHOOSABLE = {
    OptimizerSettings.ClientModes.OWN: (),
    OptimizerSettings.ClientModes.OFF: ("off",),
    OptimizerSettings.ClientModes.OFF_FAST: ("off", "fast"),
    OptimizerSettings.ClientModes.ALL: MODES,
}


class ModeNotAllowed(GatewayError):
    status, code = 400, "prompt_optimizer_not_allowed"

    def __init__(self, mode: str, allowed: list[str], param: str):
        super().__init__(
            f"prompt_optimizer '{mode}' is not allowed here. Allowed: {', '.join(allowed)}.",
            param=param,
        )


def allowed_modes(config: OptimizerConfig) -> list[str]:
    allowed = {config.mode, *_CHOOSABLE.get(config.client_modes, ())}
    if config.vendor_id is None or not config.model:
        allowed &= {"off", config.mode}  # no LLM to ask: choosing fast or reasoning would change nothing
    return [mode for mode in MODES if mode in allowed]


async def client_mode(asked: str | None, param: str = "prompt_optimizer") -> str | None:
    """The mode the request chose, once allowed; None when it chose none (the operator's mode applies)."""
    if not asked:
        return None
    allowed = allowed_modes(await optimizer_config())
    if asked not in allowed:
        raise ModeNotAllowed(asked, allowed, param)
    return asked
