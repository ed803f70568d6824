"""DocsTune's application layer: Flask API, CLI, storage, vector store, LLMs, jobs.

Importing this package stays cheap (the CLI imports it); Flask and the models
load when an app is built.
"""


def create_app(settings=None, services=None):
    """The Flask app (see :func:`application.api.create_app`)."""
    from application.api import create_app as _create_app

    return _create_app(settings, services)
