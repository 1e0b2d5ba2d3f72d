"""The audit log as an admin reads it: a label per action ("Sign-in code wrong",
"MFA reset by an admin") and the details in words, not `signin.mfa_failed` or
`billing_acknowledged: True`.

The stored events keep their machine names (filters, exports and tests rely
on them); only the page translates. An action without a label here still
shows, as its name made readable, so a new action never breaks the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from webapp import timefmt
from webapp.admin.forms import ACCOUNTING_LABELS
from webapp.audit import Action

# The label of each action, as the "Action" filter offers it.
ACTION_LABELS: dict[str, str] = {
    Action.MFA_ENABLED: "MFA turned on",
    Action.MFA_DISABLED: "MFA turned off",
    Action.MFA_RESET_BY_ADMIN: "MFA reset by an admin",
    Action.MFA_RECOVERY_CODES_REGENERATED: "New recovery codes made",
    Action.MFA_RECOVERY_CODE_USED: "Recovery code used",
    Action.MFA_REQUIRED_CHANGED: "MFA requirement changed",
    Action.MFA_REMINDER_SENT: "MFA reminder sent",
    Action.MFA_REMINDERS_SENT: "MFA reminder sent to everyone without MFA",
    Action.SIGNIN_SUCCEEDED: "Signed in",
    Action.PASSKEY_ADDED: "Passkey added",
    Action.PASSKEY_RENAMED: "Passkey renamed",
    Action.PASSKEY_REMOVED: "Passkey removed",
    Action.PASSKEY_USED: "Passkey used",
    Action.PASSKEY_SIGN_IN: "Signed in with a passkey",
    Action.PASSKEY_COUNTER_REGRESSED: "Passkey refused: possible copy",
    Action.SIGNIN_FAILED: "Sign-in refused",
    Action.SIGNIN_MFA_FAILED: "Wrong code",
    Action.SIGNIN_MFA_REPLAY: "Code used twice",
    Action.SIGNIN_LOCKED: "Codes locked after wrong attempts",
    Action.SIGNIN_PASSWORD_LOCKED: "Password sign-in locked after wrong passwords",
    Action.SIGNIN_UNLOCK_LINK_USED: "Signed in through the lock with the emailed link",
    Action.SIGNIN_LOCK_CLEARED: "Sign-in lock cleared",
    Action.SIGNOUT: "Signed out",
    Action.SESSION_SIGNED_OUT: "Signed out one session",
    Action.SESSIONS_SIGNED_OUT_ELSEWHERE: "Signed out everywhere else",
    Action.SESSIONS_SIGNED_OUT_BY_ADMIN: "Signed out everywhere by an admin",
    Action.PASSWORD_RESET_REQUESTED: "Password reset link sent",
    Action.PASSWORD_RESET: "Password reset with the emailed link",
    Action.PASSWORD_SET: "Password set with the invitation link",
    Action.PASSWORD_CHANGED: "Password changed",
    Action.USER_UPDATED: "User changed",
    Action.USER_INVITED: "User invited",
    Action.USERS_IMPORTED: "Users imported from a file",
    Action.INVITATION_RESENT: "Invitation sent again",
    Action.INVITATION_REVOKED: "Invitation revoked",
    Action.INVITATION_ACCEPTED_BY_SSO: "Invitation accepted by single sign-on",
    Action.SYSTEM_UPDATED: "Country or accounting changed",
    Action.HEADS_UP_RULE_CHANGED: "Heads-up email changed",
    Action.STEP_UP: "Confirmed it's you (step-up)",
    Action.SCIM_TOKEN_CREATED: "SCIM token created",
    Action.SCIM_TOKEN_REVOKED: "SCIM token revoked",
    Action.SCIM_INVITATIONS_CHANGED: "SCIM invitation emails changed",
    Action.SCIM_USER_CREATED: "User provisioned (SCIM)",
    Action.SCIM_USER_UPDATED: "User changed (SCIM)",
    Action.SCIM_USER_DELETED: "User deprovisioned (SCIM)",
    Action.SCIM_GROUP_CHANGED: "Group changed (SCIM)",
}

# Code checks happen at several steps (the event's `where`); a wrong code while
# setting MFA up is not a failed sign-in.
CODE_STEPS = {
    "sign_in": "Sign-in",
    "enrolment": "Setup",
    "deactivate": "Deactivate",
    "recovery_codes": "New recovery codes",
    "step_up": "Confirm it's you",
}
# The passkey's two ways in (webapp.passkeys.sign_in): second step, passwordless.
PASSKEY_STEPS = ("sign_in_passkey", "sign_in_passwordless")
# "Use a passkey" in "Confirm it's you" (webapp.passkeys.step_up).
STEP_UP_PASSKEY = "step_up_passkey"
REASONS = {
    "password": "wrong password",
    "inactive": "the account is turned off",
    "sso_only": "single sign-on only",
}
LABELS_BY_STEP = {
    Action.SIGNIN_MFA_FAILED: "{step} code wrong",
    Action.SIGNIN_MFA_REPLAY: "{step} code used twice",
}

FIELD_NAMES = {
    "display_name": "Name",
    "email": "Email",
    "external_id": "External id",
    "role": "Role",
    "active": "Active",
    "country": "Country",
    "accounting_link": "Accounting",
    "enabled": "Daily email",
    "kind": "Reports",
    "hour": "Hour",
    "recipient_ids": "Recipients",
    "send_all_clear": "All-clear email",
}
# How a step-up was proved (its event's `method`).
PROOF_WORDS = {
    "code": "with a code from the app",
    "recovery_code": "with a recovery code",
    "password": "with the password",
    "passkey": "with a passkey",
}
VALUE_NAMES = {
    "accounting_link": ACCOUNTING_LABELS,
    "kind": {"without_mfa": "Users without MFA", "with_mfa": "Users with MFA"},
    "role": {"admin": "Admin", "user": "User"},
}


def action_label(action: str) -> str:
    """The label of an action (for the filter and for events without a step)."""
    return ACTION_LABELS.get(action) or action.replace("_", " ").replace(".", ": ").capitalize()


def event_label(action: str, details: dict) -> str:
    """The label of one event: the action, named by its step where it has one."""
    if action == Action.SIGNIN_MFA_FAILED and details.get("where") in PASSKEY_STEPS:
        return "Passkey refused at sign-in"
    if action == Action.SIGNIN_MFA_FAILED and details.get("where") == STEP_UP_PASSKEY:
        return "Passkey refused at Confirm it's you"
    step = CODE_STEPS.get(details.get("where", ""))
    if action in LABELS_BY_STEP and step:
        return LABELS_BY_STEP[action].format(step=step)
    return action_label(action)


def _yes_no(value) -> str:
    return "yes" if value else "no"


def _value(field: str, value) -> str:
    if value is None:
        return "all active admins" if field == "recipient_ids" else "none"
    if isinstance(value, bool):
        return _yes_no(value)
    if field == "hour":
        return f"{int(value):02d}:00"
    if field == "recipient_ids":
        return f"{len(value)} chosen admin{'s' if len(value) != 1 else ''}"
    return VALUE_NAMES.get(field, {}).get(value, str(value))


def _changes(changes: dict) -> list[str]:
    return [
        f"{FIELD_NAMES.get(field, field.replace('_', ' ').capitalize())}: "
        f"{_value(field, old)} → {_value(field, new)}"
        for field, (old, new) in changes.items()
    ]


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def event_details(details: dict, timezone: str) -> list[str]:
    """The event's details as short phrases, in a stable order."""

    def when(value: str) -> str:
        return timefmt.firm_time(datetime.fromisoformat(value), timezone)

    phrases: dict[str, Callable[[object], list[str]]] = {
        "where": lambda value: [],  # in the label
        "step": lambda value: [],  # a TOTP time-step number: nothing a person reads
        "changes": _changes,
        "scim_token": lambda value: [f"token “{value}”"],
        "invited": lambda value: ["invitation emailed"] if value else [],
        "send_invitations": lambda value: [
            "users the identity provider adds get an invitation email"
            if value
            else "users the identity provider adds get no invitation email"
        ],
        "reason": lambda value: [REASONS.get(value, value)],
        "way": lambda value: [f"with a {value}"],
        "had_app": lambda value: ["the app removed"] if value else [],
        "had_passkeys": lambda value: [f"{_plural(value, 'passkey')} removed"] if value else [],
        "failures_in_a_row": lambda value: [f"{_plural(value, 'wrong code')} in a row"],
        "passkey": lambda value: [f"passkey “{value}”"],
        "old_name": lambda value: [f"was “{value}”"],
        "stored_count": lambda value: [f"counter {value} before"],
        "sign_count": lambda value: [f"counter {value} now"],
        "left": lambda value: [f"{_plural(value, 'recovery code')} left"],
        "lock_number": lambda value: [f"lock {value} in a row"],
        "locked_until": lambda value: [f"locked until {when(value)}"],
        "billing_acknowledged": lambda value: [
            "billing changes accepted" if value else "billing changes not accepted"
        ],
        "admin_email": lambda value: [f"by {value}"],
        "required": lambda value: [
            "required for all users" if value else "no longer required for all users"
        ],
        "grace_days": lambda value: (
            [] if value is None else [f"grace period {_plural(value, 'day')}"]
        ),
        "users_with_deadline": lambda value: [f"{_plural(value, 'user')} given a deadline"],
        "users": lambda value: [f"{_plural(value, 'user')} emailed"],
        "imported": lambda value: ["from an imported file"] if value else [],
        "invitations": lambda value: [f"{_plural(value, 'invitation')} sent"],
        "deactivated": lambda value: [f"{_plural(value, 'user')} deactivated"] if value else [],
        "skipped": lambda value: (
            [f"{_plural(value, 'row')} skipped (changed since the preview)"] if value else []
        ),
        "method": lambda value: [PROOF_WORDS.get(value, f"with {value}")],
        "path": lambda value: [f"for {value}"],
        "compliance_required": lambda value: [
            "NZ/AU compliance applies" if value else "NZ/AU compliance does not apply"
        ],
    }
    lines: list[str] = []
    for key, value in details.items():
        describe = phrases.get(key)
        if describe is not None:
            lines.extend(describe(value))
        else:
            shown = _yes_no(value) if isinstance(value, bool) else value
            lines.append(f"{key.replace('_', ' ').capitalize()}: {shown}")
    return lines
