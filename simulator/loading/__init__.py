"""Building a sandbox from files: finding the data folders (``resources``), reading a world file
checked by the contract (``bootstrap``) and generating the seeded default world (``worldgen``)."""
