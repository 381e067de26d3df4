"""Meeting other tools' projects: the Astro CLI's (import, settings export)."""
