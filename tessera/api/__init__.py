"""`tessera api`: the desk over HTTP for monitoring, forms and scripts (FastAPI on uvicorn).

Every request acts as its bearer token's user through core's operations, so rights, lifecycles
and scrips are exactly the CLI's; nothing is kept in process memory that another API process
would need (tokens, idempotent replies and dedup keys live in the database).
"""
