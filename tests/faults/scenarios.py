"""The fault scenarios of the hardening suite, one fault at a time and mixed."""

from __future__ import annotations

from scanner.simulator.faults import Fault
from tests.faults.harness import Scenario

USERS, ROLES, API_KEYS = "/api/v2/users", "/api/v2/roles", "/api/v2/api_keys"
OKTA = "/api/v2/integrations/okta/accounts"
# Target 0 is us1 (org-wide key listing); target 1 is eu1 (application keys listed per
# service account, its key pair lacking org_app_keys_read).
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("none"),
    Scenario("429 storm, JSON, 3 answers", (Fault("429_json", "0", path=USERS, times=3),)),
    Scenario("429 storm, JSON, endless", (Fault("429_json", "0", path=USERS),),
             "failed", ((0, "users"),)),
    Scenario("429 storm, HTML, 3 answers", (Fault("429_html", "1", path=ROLES, times=3),)),
    Scenario("429 storm, HTML, endless", (Fault("429_html", "1", path=ROLES),),
             "failed", ((1, "roles"),)),
    Scenario("500/502/503/504 burst, 3 each",
             tuple(Fault("status", "0", path=p, status=s, times=3) for p, s in
                   ((USERS, 500), (ROLES, 502), (API_KEYS, 503), (OKTA, 504)))),
    Scenario("503 on every attempt", (Fault("status", "0", path=API_KEYS, status=503),),
             "failed", ((0, "api_keys"),)),
    Scenario("timeout, 2 requests", (Fault("timeout", "0", path=USERS, times=2, delay=3.0),)),
    Scenario("timeout on every attempt", (Fault("timeout", "1", path=OKTA, delay=3.0),),
             "failed", ((1, "okta_accounts"),)),
    Scenario("reset mid-body, 2 requests", (Fault("reset", "0", path=USERS, times=2),)),
    Scenario("reset mid-body, every attempt", (Fault("reset", "0", path=USERS, page=1),),
             "failed", ((0, "users"),)),
    Scenario("truncated JSON, every attempt", (Fault("truncate", "1", path=ROLES),),
             "failed", ((1, "roles"),)),
    Scenario("malformed JSON, 2 requests", (Fault("malformed", "1", path=USERS, times=2),)),
    Scenario("malformed JSON, every attempt",
             (Fault("malformed", "0", path="/api/v2/authn_mappings"),),
             "failed", ((0, "authn_mappings"),)),
    Scenario("text/html instead of JSON", (Fault("content_type", "0", path="/api/v2/team"),),
             "failed", ((0, "teams"),)),
    Scenario("pagination loop", (Fault("loop", "0", path=USERS),), "failed", ((0, "users"),)),
    Scenario("total changes mid-scan", (Fault("total_drift", "0", path=USERS),),
             "partial", ((0, "users"),)),
    Scenario("one site unreachable", (), "failed", ((1, "*"),), down_site="datadoghq.eu"),
    # Transient faults (at most 3 answers per org, under the 4 attempts) on top of three
    # broken pairs; eu1's users total drifting leaves its per-account key listing partial.
    Scenario("mixed: transient everywhere + 3 broken", (
        Fault("reset", "0", path="/api/v2/*", probability=0.3, times=3, seed=7),
        Fault("429_json", "1", path="/api/v2/*", probability=0.3, times=3, seed=8),
        Fault("status", "0", path=OKTA, status=502),
        Fault("truncate", "1", path="/api/v2/permissions"),
        Fault("total_drift", "1", path=USERS),
    ), "mixed", ((0, "okta_accounts"), (1, "permissions"), (1, "users"),
                 (1, "application_keys"))),
)
