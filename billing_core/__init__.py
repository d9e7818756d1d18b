"""Billing engine of the assistant: catalog, proration, orders, invoices. No Rasa imports."""
