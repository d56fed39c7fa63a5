"""Built-in org settings rules (DDA-ORG-001..007): triggers and near misses."""

from __future__ import annotations

from rules import RuleSettings


def test_org_001_saml_disabled(snap):
    snap.target("on", org="pub-on", uuid="u-on")
    snap.target("off", org="pub-off", uuid="u-off", saml_enabled=False)
    snap.target("unknown", org="pub-unk", uuid="u-unk", saml_enabled=None)
    found = snap.evaluate()
    assert snap.hits(found, "DDA-ORG-001") == {"pub-off"}
    f = next(f for f in found if f.rule_id == "DDA-ORG-001")
    assert (f.resource_type, f.org_public_id, f.org_name, f.target) == (
        "org", "pub-off", "Org off", "off")


def test_org_002_strict_mode_off(snap):
    snap.target("strict", org="pub-strict", uuid="u1")
    snap.target("lax", org="pub-lax", uuid="u2", saml_strict_mode=False)
    snap.target("nosaml", org="pub-nosaml", uuid="u3", saml_enabled=False,
                saml_strict_mode=False)
    assert snap.hits(snap.evaluate(), "DDA-ORG-002") == {"pub-lax"}


def test_org_003_jit_admin(snap):
    snap.target("adm", org="pub-adm", uuid="u1", saml_autocreate_access_role="adm")
    snap.target("st", org="pub-st", uuid="u2", saml_autocreate_access_role="st")
    snap.target("off", org="pub-off", uuid="u3", saml_enabled=False,
                saml_autocreate_access_role="adm")
    assert snap.hits(snap.evaluate(), "DDA-ORG-003") == {"pub-adm"}


def test_org_004_public_autocreate_domain(snap):
    bad = snap.target("bad", org="pub-bad", uuid="u1", saml_autocreate_domains_enabled=True)
    snap.domain(bad, "example.com")
    snap.domain(bad, "Gmail.com")
    off = snap.target("off", org="pub-off", uuid="u2", saml_autocreate_domains_enabled=False)
    snap.domain(off, "gmail.com")
    corp = snap.target("corp", org="pub-corp", uuid="u3", saml_autocreate_domains_enabled=True)
    snap.domain(corp, "example.com")
    found = snap.evaluate()
    assert snap.hits(found, "DDA-ORG-004") == {"pub-bad"}
    f = next(f for f in found if f.rule_id == "DDA-ORG-004")
    assert f.detail == "Org Org bad auto-creates SAML users from 1 public mail domain(s), " \
        "among them Gmail.com."
    settings = RuleSettings(params={"DDA-ORG-004": {"public_domains": ["example.com"]}})
    assert snap.hits(snap.evaluate(settings), "DDA-ORG-004") == {"pub-bad", "pub-corp"}


def test_org_005_widget_sharing(snap):
    snap.target("share", org="pub-share", uuid="u1", private_widget_share=True)
    snap.target("noshare", org="pub-noshare", uuid="u2")
    assert snap.hits(snap.evaluate(), "DDA-ORG-005") == {"pub-share"}


def test_org_006_idp_initiated(snap):
    snap.target("idp", org="pub-idp", uuid="u1", saml_idp_initiated_login=True)
    snap.target("sp", org="pub-sp", uuid="u2")
    assert snap.hits(snap.evaluate(), "DDA-ORG-006") == {"pub-idp"}


def test_org_007_uncovered_child_only(snap):
    parent = snap.target("parent", org="pub-parent", uuid="u-parent")
    snap.target("covered", org="pub-covered", uuid="u-covered", saml_enabled=False)
    snap.child(parent, "pub-parent", "u-parent", "itself")  # listings may name the parent
    snap.child(parent, "pub-covered", "u-covered")
    snap.child(parent, None, "u-covered")  # matched by uuid
    snap.child(parent, "pub-orphan", "u-orphan", "Orphan", )
    snap.child(parent, None, "u-nopub", "No public id")
    found = snap.evaluate()
    assert snap.hits(found, "DDA-ORG-007") == {"pub-orphan", "u-nopub"}
    orphan = [f for f in found if f.resource_id == "pub-orphan"]
    assert [f.rule_id for f in orphan] == ["DDA-ORG-007"]  # child-only: nothing else
    assert orphan[0].org_public_id == "pub-parent"
    assert orphan[0].detail == ("Org Org parent lists child org Orphan (u-orphan), which no "
                                "target scans.")
    # the covered child is judged under its own target, as any scanned org
    assert snap.hits(found, "DDA-ORG-001") == {"pub-covered"}
