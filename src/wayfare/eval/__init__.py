"""Routing evaluation: metrics (PGR, CPT, APGR, AIQ, arena score), the eval runner and reports."""
