"""Monthly budgets per category (or all spending) with threshold alerts by email."""
