"""Projects, API keys and authentication.

Authentication order matters for safety: the key's shape and checksum are
checked before any database lookup (a typo costs no query), the stored hash is
compared in constant time, and the environment comes from the stored record,
never from the request.

Every request authenticates, so the key record and its project are cached per
worker thread, by hash (never by plaintext). Each lookup first asks the control
database for its revision (:meth:`Database.revision
<wattbridge.store.sqlite.Database.revision>`, through a
:class:`~wattbridge.store.revision_cache.RevisionCache`), which changes on any
commit by any connection or process: a revoked key or a project whose live
access was switched off is refused on the very next request.
"""

from __future__ import annotations

import hmac
import re

import attrs

from wattbridge import keys
from wattbridge.clock import Clock, isoformat
from wattbridge.drivers.base import ENVIRONMENTS, EnvironmentName
from wattbridge.errors import Conflict, LiveAccessDisabled, NotFound, Unauthorized, ValidationFailed
from wattbridge.ids import new_id
from wattbridge.store.control import ApiKeyRecord, ControlStore, Project
from wattbridge.store.revision_cache import RevisionCache

_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
UNAUTHORIZED_MESSAGE = (
    "Invalid API key. Send a valid key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
)


@attrs.frozen
class Principal:
    """Who is calling: the key's project, the key id and its environment."""

    project: Project
    key_id: str
    environment: EnvironmentName


KEY_CACHE_SIZE = 1024
"""Keys remembered per thread; when full, the key stored first is forgotten."""


@attrs.frozen
class IssuedKey:
    """A new key: the plaintext exists only here, once."""

    record: ApiKeyRecord
    plaintext: str = attrs.field(repr=False)


class AccessService:
    """Create projects and keys; turn a presented key into a :class:`Principal`."""

    def __init__(
        self, store: ControlStore, clock: Clock, server_secret: bytes, prefixes: tuple[str, ...]
    ) -> None:
        self.store = store
        self.clock = clock
        self._secret = server_secret
        self.prefixes = prefixes
        self._keys: RevisionCache[str, tuple[ApiKeyRecord, Project]] = RevisionCache(
            store.db.revision, KEY_CACHE_SIZE
        )

    def create_project(self, name: str, live_enabled: bool = False) -> Project:
        """Create a project with a unique name."""
        if not _PROJECT_NAME.match(name):
            raise ValidationFailed.single(
                "$.name",
                "a project name is 1-64 letters, digits, spaces, '.', '_' or '-', "
                "starting with a letter or digit",
            )
        if self.store.find_project(name) is not None:
            raise Conflict(f"a project named {name!r} already exists")
        return self.store.create_project(new_id("proj"), name, live_enabled, self.clock.now())

    def project(self, id_or_name: str) -> Project:
        """A project by id or name."""
        project = self.store.find_project(id_or_name)
        if project is None:
            raise NotFound(f"no project {id_or_name!r}")
        return project

    def issue_key(
        self, project_id: str, environment: EnvironmentName, prefix: str | None = None
    ) -> IssuedKey:
        """Create a key for a project and environment; the plaintext is returned once."""
        if environment not in ENVIRONMENTS:
            raise ValidationFailed.single("$.environment", "must be 'sandbox' or 'live'")
        prefix = prefix or self.prefixes[0]
        if prefix not in self.prefixes:
            raise ValidationFailed.single(
                "$.prefix", f"must be one of {', '.join(map(repr, self.prefixes))}"
            )
        project = self.store.get_project(project_id)
        if project is None:
            raise NotFound(f"no project {project_id!r}")
        plaintext = keys.generate(prefix, environment)
        record = ApiKeyRecord(
            id=new_id("key"),
            project_id=project.id,
            environment=environment,
            prefix=prefix,
            key_hash=keys.digest(plaintext, self._secret),
            hint=keys.hint_for(plaintext),
            created_at=isoformat(self.clock.now()),
            revoked_at=None,
        )
        self.store.insert_key(record)
        return IssuedKey(record, plaintext)

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key; effective from the next request."""
        if not self.store.revoke_key(key_id, self.clock.now()):
            if self.store.get_key(key_id) is None:
                raise NotFound(f"no key {key_id!r}")
            raise Conflict(f"key {key_id!r} is already revoked")

    def authenticate(self, presented: str | None) -> Principal:
        """Resolve a presented key, or raise :class:`Unauthorized` (always the same)."""
        if not presented:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        digest = keys.digest(presented, self._secret)
        found = self._keys.get(digest)
        if found is None:
            # Only a key this thread has not seen at this revision is parsed: a
            # remembered one hashed to a stored key's hash, so it is that very key,
            # whose shape and checksum were valid when it was issued.
            if keys.parse(presented, self.prefixes) is None:
                raise Unauthorized(UNAUTHORIZED_MESSAGE)
            found = self._lookup(digest)
            if found is None:
                raise Unauthorized(UNAUTHORIZED_MESSAGE)
        record, project = found
        if not hmac.compare_digest(record.key_hash, digest) or record.prefix not in self.prefixes:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        return self._principal(record, project, record.environment)

    def key_principal(self, key_id: str, environment: EnvironmentName) -> Principal:
        """Who a stored key acts for, if it is still valid in ``environment``.

        For credentials that name a key instead of presenting it (a signed
        report link); the same checks as :meth:`authenticate` after the lookup.

        :raises Unauthorized: no such key, revoked, or of another environment.
        :raises LiveAccessDisabled: live access was withdrawn from the key's project.
        """
        record = self.store.get_key(key_id)
        project = None if record is None else self.store.get_project(record.project_id)
        if record is None or project is None:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        return self._principal(record, project, environment)

    def _principal(
        self, record: ApiKeyRecord, project: Project, environment: EnvironmentName
    ) -> Principal:
        if record.revoked_at is not None or record.environment != environment:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        if record.environment == "live" and not project.live_enabled:
            raise LiveAccessDisabled(
                f"Live access is not enabled for project {project.name!r}. Use a sandbox key, "
                "or ask an operator to enable live access for the project."
            )
        return Principal(project, record.id, record.environment)

    def _lookup(self, digest: str) -> tuple[ApiKeyRecord, Project] | None:
        """The key with this hash and its project, read from the database and
        remembered in this thread's cache (after a :meth:`RevisionCache.get` miss)."""
        record = self.store.key_by_hash(digest)
        if record is None:
            return None  # unknown keys are not remembered: they would fill the cache
        project = self.store.get_project(record.project_id)
        if project is None:
            return None
        self._keys.put(digest, (record, project))
        return record, project
