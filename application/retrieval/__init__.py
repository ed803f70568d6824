"""Retrieval: the serving index (what is searched, which model and collection serve), its snapshot, search
and the hit type."""
