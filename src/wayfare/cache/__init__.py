"""The semantic response cache: answers reused for near-duplicate prompts (docs/GATEWAY.md "Semantic cache")."""
