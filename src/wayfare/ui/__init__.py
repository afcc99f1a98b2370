"""The web dashboard served by the gateway at /ui (static page + JSON API)."""
