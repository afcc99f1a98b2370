"""Quality targets with a guarantee: certified routing thresholds (Learn-then-Test) and the controller that keeps
them honest on live traffic."""

from wayfare.quality.certify import Certificate, betting_pvalue, certify_threshold

__all__ = ["Certificate", "betting_pvalue", "certify_threshold"]
