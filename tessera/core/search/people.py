"""TicketSQL on people: Owner, Creator and LastUpdatedBy (a user column), and the watcher roles
(Requestor, Cc, AdminCc, Watcher) with RT's sub-fields (EmailAddress, Name, RealName, id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, not_, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from tessera.core.context import find_user
from tessera.core.models import Group, GroupMember, GroupWatcher, Ticket, User, Watcher
from tessera.core.schemas import as_int32
from tessera.core.search.compiler_base import CompilerBase
from tessera.core.search.fields import NO_ONE, NULL_OPS, ROLE_SUBFIELDS, STRING_OPS, like_pattern, suggest
from tessera.core.search.parser import Comparison, shown


class PeopleCompiler(CompilerBase):
    def _user_id(self, c: Comparison) -> int | None:
        """A user for `=`/`!=`: a name, an address, an id, Nobody (None) or __CurrentUser__."""
        text = self._text(c).strip()
        if text.lower() == "nobody":
            return None
        if text.lower() in ("__currentuser__", "__currentusername__"):
            return self.ctx.actor.id
        user = find_user(self.ctx.session, text)
        user_id = as_int32(text)
        if user is None and user_id is not None:
            user = self.ctx.session.get(User, user_id)
        if user is None:
            if not (self.ctx.actor.privileged or self.ctx.system):
                # A requestor may not list the desk's people: no error tells them who exists. No
                # one matches, as no ticket they may see is anyone's they could not name.
                return NO_ONE
            agents = list(
                self.ctx.session.scalars(select(User.name).where(User.privileged.is_(True)).limit(500))
            )
            raise self._err(f"unknown user {shown(text)}{suggest(text, agents)}", c.value_column)
        return user.id

    def _user_column(self, c: Comparison, column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        null = self._null_test(c, column)
        if null is not None:
            return null
        if c.op in ("=", "!="):
            user_id = self._user_id(c)
            if user_id is None:
                return column.is_(None) if c.op == "=" else column.is_not(None)
            return column == user_id if c.op == "=" else column.is_distinct_from(user_id)
        pattern = like_pattern(c.op, self._text(c))
        matching = select(User.id).where(
            or_(User.name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\"))
        )
        condition = column.in_(matching)
        return or_(not_(condition), column.is_(None)) if c.op.startswith("NOT") else condition

    def _user_sub(self, c: Comparison, column: InstrumentedAttribute[Any], sub: str) -> ColumnElement[bool]:
        """Owner.EmailAddress, Creator.Name, ...: RT's watcher sub-fields on a user column."""
        if sub not in ROLE_SUBFIELDS or not sub:
            raise self._err(
                f"unknown field {c.field!r} (sub-fields: EmailAddress, Name, RealName, id)", c.column
            )
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        null = self._null_test(c, column)
        if null is not None:
            return null
        text = self._text(c)
        kind = ROLE_SUBFIELDS[sub]
        positive_op = c.op.removeprefix("NOT ").replace("!=", "=")
        if kind == "id":
            match: ColumnElement[bool] = User.id == self._number(c, "a user id")
        else:
            user_column = {"email": User.email, "name": User.name, "real_name": User.real_name}[kind]
            if positive_op == "=":
                match = func.lower(user_column) == text.lower()
            else:
                match = user_column.ilike(like_pattern(positive_op, text), escape="\\")
        condition = column.in_(select(User.id).where(match))
        if c.op.startswith("NOT") or c.op == "!=":
            return or_(not_(condition), column.is_(None))
        return condition

    def _role(self, c: Comparison, roles: tuple[str, ...], sub: str) -> ColumnElement[bool]:
        if sub not in ROLE_SUBFIELDS:
            raise self._err(
                f"unknown field {c.field!r} (sub-fields: EmailAddress, Name, RealName, id)", c.column
            )
        self._check_op(c, (*STRING_OPS, *NULL_OPS))
        anyone = or_(
            exists().where(Watcher.ticket_id == Ticket.id, Watcher.role.in_(roles)),
            exists().where(GroupWatcher.ticket_id == Ticket.id, GroupWatcher.role.in_(roles)),
        )
        if c.op in NULL_OPS:
            return not_(anyone) if c.op == "IS" else anyone
        if c.value_kind == "null":
            raise self._err(f"use {c.field} IS NULL to find tickets with nobody in the role", c.value_column)
        text = self._text(c)
        kind = ROLE_SUBFIELDS[sub]
        member = (
            select(Watcher.ticket_id)
            .join(User, User.id == Watcher.user_id)
            .where(Watcher.ticket_id == Ticket.id, Watcher.role.in_(roles))
        )
        positive_op = c.op.removeprefix("NOT ").replace("!=", "=")
        if text.lower() == "__currentuser__" and positive_op == "=":
            match = User.id == self.ctx.actor.id
        elif kind == "id":
            match = User.id == self._number(c, "a user id")
        else:
            by_kind: dict[str, list[InstrumentedAttribute[Any]]] = {
                "address": [User.email, User.name],
                "email": [User.email],
                "name": [User.name],
                "real_name": [User.real_name],
            }
            columns = by_kind[kind]
            if positive_op == "=":
                match = or_(*(func.lower(col) == text.lower() for col in columns))
            else:
                pattern = like_pattern(positive_op, text)
                match = or_(*(col.ilike(pattern, escape="\\") for col in columns))
        # RT's searches are deep: a person in a group in the role matches as the role's member,
        # and the group itself matches by its name (`AdminCc.Name = 'Support'`).
        via_group = (
            select(GroupWatcher.ticket_id)
            .join(GroupMember, GroupMember.group_id == GroupWatcher.group_id)
            .join(User, User.id == GroupMember.user_id)
            .where(GroupWatcher.ticket_id == Ticket.id, GroupWatcher.role.in_(roles))
        )
        conditions = [exists(member.where(match)), exists(via_group.where(match))]
        if kind in ("name", "address") and text.lower() != "__currentuser__":
            if positive_op == "=":
                group_match = func.lower(Group.name) == text.lower()
            else:
                group_match = Group.name.ilike(like_pattern(positive_op, text), escape="\\")
            conditions.append(
                exists(
                    select(GroupWatcher.ticket_id)
                    .join(Group, Group.id == GroupWatcher.group_id)
                    .where(GroupWatcher.ticket_id == Ticket.id, GroupWatcher.role.in_(roles), group_match)
                )
            )
        condition = or_(*conditions)
        # RT: != and NOT LIKE mean "no member matches", so tickets with nobody in the role match.
        return not_(condition) if c.op.startswith("NOT") or c.op == "!=" else condition
