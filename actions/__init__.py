"""Custom actions: thin adapters from conversation slots to billing_core use cases."""
