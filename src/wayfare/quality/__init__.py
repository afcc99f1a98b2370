"""Quality targets with a guarantee: certified routing thresholds (Learn-then-Test) and the controller that keeps
them honest on live traffic. The certification itself is statistics on labelled pairs and lives in
:mod:`wayfare.eval.certify` (re-exported here); this package runs it on the gateway's traffic."""

from wayfare.eval.certify import Certificate, betting_pvalue, certify_threshold

__all__ = ["Certificate", "betting_pvalue", "certify_threshold"]
