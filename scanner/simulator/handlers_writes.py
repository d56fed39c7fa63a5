"""Write endpoints remediation uses: revoke keys and tokens, delete mappings, disable users.

Each answers 204 with no body (or 200 with the user for PATCH) and changes the org, so the
next listing and its totals show the change. The permission each needs is checked by the
server (`server.WRITE_ROUTES`) before the handler runs; a handler checks only what depends
on the resource (whose token it is). 404 bodies are `APIErrorResponse`s naming the id the
caller sent, as the recorded `users` 404 does.
"""

from __future__ import annotations

import json

from scanner.simulator import render
from scanner.simulator.handlers import Answer, Ctx
from scanner.simulator.model import Org, User
from scanner.simulator.query import BadRequest

NO_CONTENT: Answer = (204, {})


def _not_found(what: str) -> Answer:
    return 404, {"errors": [f"{what} not found"]}


def _service_account(org: Org, sa_id: str) -> User | None:
    user = org.user(sa_id)
    return user if user is not None and user.service_account else None


def delete_app_key(ctx: Ctx) -> Answer:
    """DELETE /api/v2/application_keys/{app_key_id}: any key of the org."""
    key_id = ctx.path_params["app_key_id"]
    return NO_CONTENT if ctx.org.delete_app_key(key_id) else _not_found(key_id)


def delete_sa_app_key(ctx: Ctx) -> Answer:
    """DELETE /api/v2/service_accounts/{service_account_id}/application_keys/{app_key_id}.

    404 unless the key belongs to that service account.
    """
    sa_id, key_id = ctx.path_params["service_account_id"], ctx.path_params["app_key_id"]
    if _service_account(ctx.org, sa_id) is None:
        return _not_found(sa_id)
    return NO_CONTENT if ctx.org.delete_app_key(key_id, sa_id) else _not_found(key_id)


def delete_api_key(ctx: Ctx) -> Answer:
    """DELETE /api/v2/api_keys/{api_key_id}."""
    key_id = ctx.path_params["api_key_id"]
    return NO_CONTENT if ctx.org.delete_api_key(key_id) else _not_found(key_id)


def delete_mapping(ctx: Ctx) -> Answer:
    """DELETE /api/v2/authn_mappings/{authn_mapping_id}."""
    mapping_id = ctx.path_params["authn_mapping_id"]
    return NO_CONTENT if ctx.org.delete_mapping(mapping_id) else _not_found(mapping_id)


def revoke_personal_token(ctx: Ctx) -> Answer:
    """DELETE /api/v2/personal_access_tokens/{token_id}: a PAT (a SAT's id here is a 404).

    `org_app_keys_write` revokes any user's PAT; `user_app_keys` alone only the key
    pair's own user's (403 for another's), as the docs describe managing PATs.
    """
    token_id = ctx.path_params["token_id"]
    token = ctx.org.find_token(token_id)
    if token is None or token.kind != "personal":
        return _not_found(token_id)
    own = token.owner_id == ctx.org.current_user_id
    if not own and "org_app_keys_write" not in ctx.target.permissions:
        return 403, {"errors": ["Forbidden"]}
    ctx.org.revoke_token(token.id)  # a revoked one: 204 again (recorded for PATs and SATs)
    return NO_CONTENT


def revoke_service_token(ctx: Ctx) -> Answer:
    """DELETE /api/v2/service_accounts/{service_account_id}/access_tokens/{token_id}.

    404 unless the token is a SAT of that service account.
    """
    sa_id, token_id = ctx.path_params["service_account_id"], ctx.path_params["token_id"]
    if _service_account(ctx.org, sa_id) is None:
        return _not_found(sa_id)
    token = ctx.org.find_token(token_id)
    if token is None or token.kind != "service" or token.owner_id != sa_id:
        return _not_found(token_id)
    ctx.org.revoke_token(token.id)
    return NO_CONTENT


def disable_user(ctx: Ctx) -> Answer:
    """DELETE /api/v2/users/{user_id} ("Disable a user"): 204, again for a disabled one."""
    user_id = ctx.path_params["user_id"]
    if ctx.org.set_disabled(user_id, True, ctx.now) is None:
        return _not_found(user_id)
    return NO_CONTENT


def update_user(ctx: Ctx) -> Answer:
    """PATCH /api/v2/users/{user_id}: `attributes.disabled` true/false; 200 with the user.

    The body is a `UserUpdateRequest` (`data.type` "users", `data.id` the path's id);
    its other attributes (`name`, `email`) are accepted and ignored.
    """
    user_id = ctx.path_params["user_id"]
    try:
        data = json.loads(ctx.body or b"null")["data"]
        attributes = data.get("attributes") or {}
    except (ValueError, TypeError, KeyError, AttributeError):
        raise BadRequest("Invalid request body: expected {\"data\": {\"type\": \"users\", "
                         "\"id\": ..., \"attributes\": {...}}}") from None
    if data.get("type") != "users" or data.get("id") != user_id:
        raise BadRequest("data.type must be \"users\" and data.id the user id of the path")
    disabled = attributes.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise BadRequest("attributes.disabled must be a boolean")
    user = ctx.org.user(user_id)
    if user is not None and disabled is not None:
        user = ctx.org.set_disabled(user_id, disabled, ctx.now)
    if user is None:
        return _not_found(user_id)
    return 200, {"data": render.user(user, ctx.org)}
