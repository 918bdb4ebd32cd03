"""Stand-in process of a platform service (see `server.py`)."""
