"""Observability: Prometheus metrics (``metrics``), prompt previews (``preview``), the live view behind the /ui
dashboard (``live``) and the gateway's seam (``observer.Observer``). Import the submodules directly: this package
is imported by the gateway config and stays light."""
