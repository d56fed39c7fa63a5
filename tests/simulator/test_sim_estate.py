"""The estate generator: determinism, shapes, ages kept clear of rule thresholds."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime

from scanner.simulator.estate import EstateSpec, demo_estate, generate_estate
from scanner.simulator.factory import MARGIN, THRESHOLDS
from scanner.simulator.model import Estate
from scanner.sites import DEMO_SITES

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_same_seed_same_estate(now: datetime) -> None:
    assert asdict(demo_estate(now)) == asdict(demo_estate(now))


def test_other_seed_differs(now: datetime) -> None:
    a, b = demo_estate(now), demo_estate(now, seed=7)
    assert [o.uuid for o in a.orgs] != [o.uuid for o in b.orgs]
    assert [t.api_key for t in a.targets] != [t.api_key for t in b.targets]


def test_demo_shape(estate: Estate) -> None:
    assert estate.sites == list(DEMO_SITES)
    assert len(estate.targets) == 14
    names = [t.name for t in estate.targets]
    assert len(set(names)) == len(names) and "us3-prod-1" in names
    for t in estate.targets:
        assert re.fullmatch(r"[0-9a-f]{32}", t.api_key)
        assert re.fullmatch(r"[0-9a-f]{40}", t.app_key)
    for org in estate.scanned_orgs:
        assert 40 <= len(org.users) <= 60
        assert sum(u.service_account for u in org.users) >= 15
        assert 1 <= len(org.okta_accounts) <= 5
        assert len(org.name) <= 32


def test_ids_are_uuids_and_sa_handle_is_uuid(estate: Estate) -> None:
    for org in estate.orgs:
        assert UUID.match(org.uuid)
        for u in org.users:
            assert UUID.match(u.id)
            if u.service_account:
                assert u.handle == u.id
        for k in org.app_keys:
            assert UUID.match(k.id) and len(k.last4) == 4


def test_exactly_one_key_permission_gap(estate: Estate) -> None:
    full = estate.targets[0].permissions
    gaps = [t for t in estate.targets if t.permissions != full]
    assert len(gaps) == 1
    assert full - gaps[0].permissions == {"org_app_keys_read"}
    assert "service_account_write" in gaps[0].permissions


def test_parent_with_scanned_and_unscanned_children(estate: Estate) -> None:
    parent = estate.scanned_orgs[0]
    children = [o for o in estate.orgs if o.parent_public_id == parent.public_id]
    covered = {t.org_public_id for t in estate.targets}
    assert {c.public_id in covered for c in children} == {True, False}


def _ages(now: datetime, estate: Estate) -> tuple[list[float], list[float]]:
    """(key and service-account ages, token and OAuth-client ages and lifetimes) in days."""

    def days(ts: datetime | None, since: datetime | None = None) -> list[float]:
        return [] if ts is None else [((since or now) - ts).total_seconds() / 86400]

    keys: list[float] = []
    tokens: list[float] = []
    for org in estate.orgs:
        for k in org.app_keys:
            keys += days(k.created_at) + days(k.last_used_at)
        for a in org.api_keys:
            keys += days(a.created_at) + days(a.date_last_used)
        for u in org.users:
            if u.service_account:
                keys += days(u.created_at)
        for t in org.access_tokens:
            tokens += days(t.created_at) + days(t.last_used_at)
            if t.expires_at is not None:  # its lifetime: whole days, measured exactly
                tokens += days(t.created_at, t.expires_at)
        for c in org.oauth_clients:
            tokens += days(c.last_exercised)
    return keys, tokens


def _clear(ages: list[float], thresholds: tuple[int, ...]) -> None:
    for age in ages:
        # 4 hours of jitter at most: 87 days stays 87.x, well short of 90 for a day.
        assert min(abs(age - t) for t in thresholds) >= MARGIN - 0.2, age


def test_ages_stay_clear_of_thresholds(estate: Estate, now: datetime) -> None:
    # Generated ages keep clear of every threshold.
    keys, tokens = _ages(now, generate_estate(EstateSpec(deliberate=False), now=now))
    assert len(tokens) > 200
    _clear(keys + tokens, THRESHOLDS)
    # Deliberate ones of the key rules (svc-idle is 60 days old) keep clear of theirs;
    # the 60 days of DDA-OAUTH-001 concern OAuth clients only.
    keys, tokens = _ages(now, estate)
    _clear(keys, tuple(t for t in THRESHOLDS if t != 60))
    _clear(tokens, THRESHOLDS)


def test_custom_sizes(now: datetime) -> None:
    spec = EstateSpec(sites=("datadoghq.eu",), orgs_per_site=3, users_per_org=12,
                      service_accounts_per_org=4, api_keys_per_org=2, okta_accounts_per_org=1)
    e = generate_estate(spec, now=now)
    assert [t.name for t in e.targets] == ["eu1-prod-1", "eu1-prod-2", "eu1-prod-3"]
    assert all(len(o.api_keys) >= 2 for o in e.scanned_orgs)


def test_canaries_listed_only_when_on(now: datetime) -> None:
    assert demo_estate(now).canaries == []
    on = demo_estate(now, canaries=True)
    assert any(c.startswith("CANARY-okta-secret-") for c in on.canaries)
    assert any(c.startswith("CANARY-appkey-") for c in on.canaries)
