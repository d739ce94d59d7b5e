"""How the admin shows a key's state: one state in words and colour, the operator's switch and the gateway's
verdict apart, the history of its changes, and a vendor's key health (usable / total, the worst state)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join

from vendors.key_models import OPERATOR_OFF, STATE_CHOICES, VendorKey

Status = VendorKey.Status
WORDS = {
    Status.ACTIVE: "active",
    Status.SUSPECT: "suspect",
    Status.COOLING: "cooling",
    Status.AUTO_DISABLED: "auto-disabled",
    OPERATOR_OFF: "disabled by the operator",
}
COLOURS = {
    Status.ACTIVE: "#1b7f3b",
    Status.SUSPECT: "#9a6700",
    Status.COOLING: "#c45500",
    Status.AUTO_DISABLED: "#c62828",
    OPERATOR_OFF: "#6b6b6b",
    "none": "#c62828",
}
# The worst first: out until someone acts, out for now, in but failing, off on purpose, well.
SEVERITY = (Status.AUTO_DISABLED, Status.COOLING, Status.SUSPECT, OPERATOR_OFF, Status.ACTIVE)
STATE_NAMES = dict(STATE_CHOICES)
HISTORY_SHOWN = 50


def _clock(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%H:%M}"


def _badge(state: str, head: str, why: str = ""):
    return format_html(
        '<span class="key-state key-state-{}" style="color:{}"><b>● {}</b>{}</span>',
        state,
        COLOURS[state],
        head,
        f": {why}" if why else "",
    )


def state_words(key: VendorKey, now: datetime | None = None, *, limit: int | None = None) -> tuple[str, str]:
    """The key's state as the operator reads it, and why: ("cooling until 14:05", "rate limited (...)")."""
    state = key.state_now(now)
    head = f"cooling until {_clock(key.cooling_until)}" if state == Status.COOLING else WORDS[state]
    why = key.status_reason if state in (Status.SUSPECT, Status.COOLING, Status.AUTO_DISABLED) else ""
    if limit is not None and len(why) > limit:
        why = why[: limit - 1] + "…"
    return head, why


def state_badge(key: VendorKey, *, limit: int | None = 80):
    return _badge(key.state_now(), *state_words(key, limit=limit))


def verdict_words(key: VendorKey) -> str:
    verdict = key.verdict_now()
    if verdict == Status.COOLING:
        return f"cooling until {_clock(key.cooling_until)}"
    return WORDS[verdict]


def history_table(key: VendorKey):
    changes = list(key.state_changes.all()[:HISTORY_SHOWN]) if key.pk else []
    if not changes:
        return "no change yet"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                f"{timezone.localtime(change.at):%Y-%m-%d %H:%M:%S}",
                STATE_NAMES.get(change.from_state, change.from_state),
                STATE_NAMES.get(change.to_state, change.to_state),
                change.reason,
            )
            for change in changes
        ),
    )
    return format_html(
        '<table class="key-history"><thead><tr><th>time</th><th>from</th><th>to</th><th>why</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        rows,
    )


def key_health(keys: Iterable[VendorKey]):
    """A vendor's keys: "usable / total" and its worst state, in words and colour."""
    now = timezone.now()
    states = [key.state_now(now) for key in keys]
    if not states:
        return format_html("0 / 0 {}", _badge("none", "no keys"))
    usable = sum(state in (Status.ACTIVE, Status.SUSPECT) for state in states)
    worst = min(states, key=SEVERITY.index)
    count = states.count(worst)
    return format_html("{} / {} {}", usable, len(states), _badge(worst, f"{WORDS[worst]} ({count})"))
