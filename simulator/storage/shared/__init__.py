"""One sandbox served by many worker processes, its state shared through Redis (``serve --store``).

``link.py`` speaks to Redis (the URL, the checks at start, the scripts that lock and append);
``replica.py`` keeps one worker's in-memory sandbox in step with every other worker's.
"""
