"""Developer tooling: training the Rasa model and running the three processes."""
