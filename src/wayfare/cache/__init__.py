"""The semantic response cache's parts (docs/GATEWAY.md "Semantic cache"): its config, the bucket key and guards, the
vector index, the in-process and Redis stores, and embedders that remember recent vectors. The request-path glue
that uses them is :mod:`wayfare.gateway.semantic_cache`."""
