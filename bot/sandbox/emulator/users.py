"""users.* and usergroups.* Web API methods."""

from __future__ import annotations

from bot.sandbox.emulator.state import JsonDict, SlackApiFailure, json_copy
from bot.sandbox.emulator.validation import _paginate, _truthy
from bot.sandbox.emulator.workspace import WorkspaceBase


class UsersApi(WorkspaceBase):
    """Handlers for ``users.*`` and ``usergroups.*``."""

    def _users_info(self, args: JsonDict) -> JsonDict:
        return {"user": self._user_or_fail(args.get("user"))}

    def _users_list(self, args: JsonDict) -> JsonDict:
        page = _paginate(list(self._users.values()), args, "members")
        page.pop("has_more")
        return {**page, "cache_ts": int(self.clock())}

    def _users_lookup_by_email(self, args: JsonDict) -> JsonDict:
        email = str(args.get("email") or "").lower()
        found = next((u for u in self._users.values() if u["profile"].get("email", "").lower() == email), None)
        if not email or found is None:
            raise SlackApiFailure("users_not_found")
        return {"user": found}

    def _usergroups_list(self, args: JsonDict) -> JsonDict:
        include_users = _truthy(args.get("include_users"))
        groups = [json_copy(g) for g in self._usergroups.values()]
        if not include_users:
            for group in groups:
                group.pop("users")
        return {"usergroups": groups}

    def _usergroups_users_list(self, args: JsonDict) -> JsonDict:
        group = self._usergroups.get(str(args.get("usergroup") or ""))
        if group is None:
            raise SlackApiFailure("no_such_subteam")
        return {"users": list(group["users"])}
