"""`python -m bench.caching_proxy` at a tiny scale, on the suite's server: it
runs end to end, the proxy answers the same trees, and it stores what the
service's headers let a shared cache store (issue 22's bench line)."""

from __future__ import annotations

from bench import caching_proxy
from tests.helpers import required_program
from tests.pg import PgServer


def test_anonymous_tree_reads_are_served_by_the_proxy_from_its_cache(
    pg_server: PgServer,
) -> None:
    required_program(caching_proxy.NGINX_PATHS, caching_proxy.INSTALL_NGINX)
    args = caching_proxy.parse_args(
        ["--database-url", pg_server.base_url, "--creators", "1", "--courses", "1",
         "--requests", "40", "--warmup", "8", "--rounds", "2", "--concurrency", "4"]
    )  # fmt: skip
    outcome = caching_proxy.run(args)

    assert outcome.checked.cache_control.startswith("public"), outcome.checked
    assert "Authorization" in outcome.checked.vary
    assert outcome.checked.anonymous == ("MISS", "HIT")
    # The owner's answer is `private`: the proxy never stores it for the next caller.
    assert outcome.checked.signed_in == ("MISS", "MISS")
    assert sum(outcome.statuses.values()) == 40  # every timed read went through it
    # All of them but those that found the stored answer past its max-age.
    assert caching_proxy.hit_ratio(outcome.statuses) >= 0.9, outcome.statuses
    for side in ("service", "proxy", "floor"):
        assert outcome.phases[side].requests == 40
    # Served from its cache, the proxy left the app idle: no CPU per read.
    assert outcome.phases["proxy"].cpu_ms["service"] < outcome.phases["service"].cpu_ms["service"]
    assert "proxy hit ratio over the timed reads" in caching_proxy.report(args, outcome)
