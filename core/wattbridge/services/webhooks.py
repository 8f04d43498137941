"""Webhook endpoints: register, change, rotate secrets, test, read the log, recover.

An endpoint lives in the database of the environment whose key created it, so
it can only ever see (and be sent) that environment's events; ids from the
other environment are simply not there (404). URLs pass the SSRF check at
registration and again before every attempt (the dispatcher's job).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from wattbridge.clock import isoformat
from wattbridge.errors import Conflict, FieldError, NotFound, ValidationFailed
from wattbridge.ids import new_id
from wattbridge.serialization import structure, unstructure
from wattbridge.services.events import EVENT_TYPES
from wattbridge.store.webhooks import StoredEndpoint, WebhookStore
from wattbridge.webhooks.signing import generate_secret
from wattbridge.webhooks.ssrf import Resolver, UnsafeTarget, check_url, system_resolver

if TYPE_CHECKING:
    from wattbridge.environments import Environment

DEFAULT_OVERLAP = 86400
MAX_OVERLAP = 7 * 86400
RECOVER_WINDOW = timedelta(days=14)
MAX_DESCRIPTION = 500


@attrs.frozen
class CreateEndpoint:
    """``POST /v1/webhook-endpoints``."""

    url: str
    events: list[str] | None = None
    description: str | None = None


@attrs.frozen
class UpdateEndpoint:
    """``PATCH /v1/webhook-endpoints/{id}``: absent (or null) fields stay as they are."""

    url: str | None = None
    events: list[str] | None = None
    description: str | None = None
    enabled: bool | None = None


@attrs.frozen
class RotateSecret:
    """``POST …/rotate-secret``: how long the old secret keeps signing."""

    expires_in: int = DEFAULT_OVERLAP


@attrs.frozen
class Recover:
    """``POST …/recover``: re-queue failed deliveries of events since this time."""

    since: datetime


@attrs.frozen
class EndpointView:
    """The public form of an endpoint (the secret is added only on create and rotate)."""

    id: str
    url: str
    events: list[str] | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: str
    updated_at: str


def _view(endpoint: StoredEndpoint) -> dict[str, Any]:
    data: dict[str, Any] = unstructure(
        EndpointView(
            id=endpoint.id,
            url=endpoint.url,
            events=None if endpoint.events is None else list(endpoint.events),
            description=endpoint.description,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )
    )
    return data


class WebhookEndpointService:
    """The webhook endpoints of one environment."""

    def __init__(self, env: Environment, resolver: Resolver = system_resolver) -> None:
        self.env = env
        self.store = WebhookStore(env.db)
        self.resolver = resolver

    def create(self, project_id: str, body: object) -> dict[str, Any]:
        """Register an endpoint; the answer carries its secret, the only time it is shown."""
        request = structure(body, CreateEndpoint)
        problems = self._url_problems(request.url)
        events = _event_filter(request.events, problems)
        _check_description(request.description, problems)
        if problems:
            raise ValidationFailed(problems)
        stamp = isoformat(self.env.clock.now())
        endpoint = StoredEndpoint(
            id=new_id("we"),
            project_id=project_id,
            url=request.url,
            events=events,
            description=request.description,
            enabled=True,
            disabled_reason=None,
            secret=generate_secret(),
            previous_secret=None,
            previous_secret_expires_at=None,
            failing_since=None,
            created_at=stamp,
            updated_at=stamp,
        )
        with self.env.db.transaction():
            self.store.insert_endpoint(endpoint)
        return {**_view(endpoint), "secret": endpoint.secret}

    def list_endpoints(
        self, project_id: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of endpoints, oldest first, and the total."""
        endpoints, total = self.store.list_endpoints(project_id, limit, offset)
        return [_view(e) for e in endpoints], total

    def get(self, project_id: str, endpoint_id: str) -> dict[str, Any]:
        """One endpoint, or 404."""
        return _view(self._find(project_id, endpoint_id))

    def update(self, project_id: str, endpoint_id: str, body: object) -> dict[str, Any]:
        """Change url, events, description or enabled; re-enabling clears the failure streak."""
        request = structure(body, UpdateEndpoint)
        problems = [] if request.url is None else self._url_problems(request.url)
        events = None if request.events is None else _event_filter(request.events, problems)
        _check_description(request.description, problems)
        if problems:
            raise ValidationFailed(problems)
        with self.env.db.transaction():
            endpoint = self._find(project_id, endpoint_id)
            changes: dict[str, Any] = {"updated_at": isoformat(self.env.clock.now())}
            if request.url is not None:
                changes["url"] = request.url
            if request.events is not None:
                changes["events"] = events
            if request.description is not None:
                changes["description"] = request.description or None
            if request.enabled is True and not endpoint.enabled:
                changes.update(enabled=True, disabled_reason=None, failing_since=None)
            elif request.enabled is False and endpoint.enabled:
                changes.update(enabled=False, disabled_reason="disabled through the API")
            endpoint = attrs.evolve(endpoint, **changes)
            self.store.update_endpoint(endpoint)
        return _view(endpoint)

    def delete(self, project_id: str, endpoint_id: str) -> dict[str, Any]:
        """Delete an endpoint and its delivery log; pending deliveries are dropped."""
        endpoint = self._find(project_id, endpoint_id)
        self.store.delete_endpoint(endpoint.id)
        return {"id": endpoint.id, "deleted": True}

    def rotate_secret(self, project_id: str, endpoint_id: str, body: object) -> dict[str, Any]:
        """Issue a new secret; the current one keeps signing (too) for ``expiresIn`` seconds."""
        request = structure(body, RotateSecret)
        if not 0 <= request.expires_in <= MAX_OVERLAP:
            raise ValidationFailed.single(
                "$.expiresIn",
                f"must be between 0 and {MAX_OVERLAP} seconds (7 days), got {request.expires_in}",
            )
        now = self.env.clock.now()
        with self.env.db.transaction():
            endpoint = self._find(project_id, endpoint_id)
            expires = now + timedelta(seconds=request.expires_in)
            # Only one old secret is kept: rotating again ends the previous overlap.
            endpoint = attrs.evolve(
                endpoint,
                secret=generate_secret(),
                previous_secret=endpoint.secret if request.expires_in else None,
                previous_secret_expires_at=isoformat(expires) if request.expires_in else None,
                updated_at=isoformat(now),
            )
            self.store.update_endpoint(endpoint)
        return {
            **_view(endpoint),
            "secret": endpoint.secret,
            "previousSecretExpiresAt": endpoint.previous_secret_expires_at,
        }

    def send_test(self, project_id: str, endpoint_id: str) -> dict[str, Any]:
        """Record a ``webhook.test`` event queued for this endpoint only."""
        with self.env.db.transaction():
            endpoint = self._find(project_id, endpoint_id)
            _require_enabled(endpoint, " first")
            event_id = self.env.event_service.record(
                project_id,
                "webhook.test",
                {"endpointId": endpoint.id, "message": "A test delivery from wattbridge."},
            )
            webhook_id = self.store.queue_single(event_id, endpoint.id, self.env.clock.now())
        return {"event": self.env.event_service.get(project_id, event_id), "webhookId": webhook_id}

    def deliveries(
        self, project_id: str, endpoint_id: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the endpoint's delivery attempts, newest first, and the total."""
        endpoint = self._find(project_id, endpoint_id)
        attempts, total = self.store.list_attempts(endpoint.id, limit, offset)
        return [unstructure(a) for a in attempts], total

    def recover(self, project_id: str, endpoint_id: str, body: object) -> dict[str, Any]:
        """Send failed deliveries of events since ``since`` again, now: those whose
        retries ran out and those still waiting for a retry."""
        request = structure(body, Recover)
        now = self.env.clock.now()
        if request.since < now - RECOVER_WINDOW:
            raise ValidationFailed.single(
                "$.since",
                f"must be within the last {RECOVER_WINDOW.days} days (after "
                f"{isoformat(now - RECOVER_WINDOW)})",
            )
        if request.since > now:
            raise ValidationFailed.single("$.since", "must not be in the future")
        endpoint = self._find(project_id, endpoint_id)
        _require_enabled(endpoint, ", then recover")
        count = self.store.requeue_failed(endpoint.id, request.since, now)
        return {"recovered": count, "since": isoformat(request.since)}

    def _find(self, project_id: str, endpoint_id: str) -> StoredEndpoint:
        endpoint = self.store.get_endpoint(project_id, endpoint_id)
        if endpoint is None:
            raise NotFound(f"No webhook endpoint {endpoint_id!r} in this project and environment.")
        return endpoint

    def _url_problems(self, url: str) -> list[FieldError]:
        try:
            check_url(url, self.env.config.private_webhook_targets, self.resolver)
        except UnsafeTarget as exc:
            return [FieldError("$.url", str(exc))]
        return []


def _require_enabled(endpoint: StoredEndpoint, then: str) -> None:
    """Refuse (409) to queue deliveries to a disabled endpoint; ``then`` ends the advice."""
    if not endpoint.enabled:
        raise Conflict(
            f"Webhook endpoint {endpoint.id} is disabled ({endpoint.disabled_reason}); "
            f"enable it with PATCH {{\"enabled\": true}}{then}."
        )


ALL_EVENTS = "*"
"""``events: ["*"]`` subscribes to every type, as leaving ``events`` out does (Stripe's
spelling); it is how a PATCH turns a filtered endpoint back into one that gets all."""


def _event_filter(events: list[str] | None, problems: list[FieldError]) -> tuple[str, ...] | None:
    """Validate a subscription list (appending problems); None means every type."""
    if events is None or events == [ALL_EVENTS]:
        return None
    if not events:
        problems.append(
            FieldError(
                "$.events", 'list at least one event type, or ["*"] (or leave events out) for all'
            )
        )
    valid = ", ".join(EVENT_TYPES)
    for index, name in enumerate(events):
        if name == ALL_EVENTS:
            problems.append(
                FieldError(f"$.events[{index}]", '"*" means every type: send it alone')
            )
        elif name not in EVENT_TYPES:
            problems.append(
                FieldError(
                    f"$.events[{index}]", f"unknown event type {name!r}; valid types: {valid}"
                )
            )
    return tuple(dict.fromkeys(events))


def _check_description(description: str | None, problems: list[FieldError]) -> None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        problems.append(
            FieldError("$.description", f"must be at most {MAX_DESCRIPTION} characters")
        )
