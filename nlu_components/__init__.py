"""Custom Rasa graph components for the Italian billing assistant's NLU."""
