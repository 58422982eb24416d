"""The quote service: a FastAPI app serving quotes, outcomes, model info and two web pages.

``eta serve`` runs it; :func:`service.app.create_app` builds it (tests build it directly).
"""
