"""The Guichet API: citizens' conversations, routed to the Rasa bot or to human agents (FastAPI)."""
