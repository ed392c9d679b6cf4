"""TicketSQL: RT's query language, parsed by lark and compiled to parameterised SQLAlchemy."""
