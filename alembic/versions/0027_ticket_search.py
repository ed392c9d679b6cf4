"""ticket_search: one row per ticket holding every word of its subjects and message parts
(all_doc) and those outside comments (public_doc), stripped of positions, with GIN indexes; kept
current by triggers in the same transaction as each write, backfilled here

Full text (`Content LIKE`) uses these documents to find candidate tickets: a rare word through
the GIN indexes, a common word by walking tickets in the page's order and stopping after the
page. A document only ever gains words (a subject change adds the new subject's, a merge adds the
merged ticket's), so it is a superset of what the ticket can match; the exact per-part match and
the comment rule are checked on the candidates (tessera.core.search.compiler). A document that
would pass tsvector's 1 MB limit stops growing and is marked `overflow`: such tickets are always
candidates, so nothing is missed and no write ever fails because of it.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Adds a stripped tsvector's words to one of a ticket's documents; past ~1 MB the document stops
# growing and the ticket is marked overflow (always a candidate). Up to 400 lexemes a document
# cannot reach the limit (a lexeme is at most 2 KB), so the size is only measured above that.
FUNCTIONS = r"""
CREATE FUNCTION tessera_search_fits(doc tsvector, more tsvector) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT length(doc) + length(more) <= 400
      OR octet_length(doc::text) + octet_length(more::text) < 1000000
$$;

-- all_doc holds every word, public_doc those outside comments (so public_doc is within all_doc
-- and fits whenever all_doc does).
CREATE FUNCTION tessera_search_add(ticket bigint, words tsvector, is_comment boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  words := strip(coalesce(words, ''::tsvector));
  IF length(words) = 0 THEN
    RETURN;
  END IF;
  INSERT INTO ticket_search AS s (ticket_id, public_doc, all_doc)
  VALUES (ticket, CASE WHEN is_comment THEN ''::tsvector ELSE words END, words)
  ON CONFLICT (ticket_id) DO UPDATE SET
    public_doc = CASE WHEN is_comment OR s.overflow OR NOT tessera_search_fits(s.all_doc, words)
                      THEN s.public_doc ELSE s.public_doc || words END,
    all_doc = CASE WHEN s.overflow OR NOT tessera_search_fits(s.all_doc, words)
                   THEN s.all_doc ELSE s.all_doc || words END,
    overflow = s.overflow OR NOT tessera_search_fits(s.all_doc, words);
END $$;

CREATE FUNCTION tessera_search_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ticket_search (ticket_id, public_doc, all_doc)
      VALUES (NEW.id, strip(NEW.search_vector), strip(NEW.search_vector))
      ON CONFLICT (ticket_id) DO NOTHING;
  ELSIF NEW.subject IS DISTINCT FROM OLD.subject THEN
    PERFORM tessera_search_add(NEW.id, NEW.search_vector, false);
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.merged_into_id IS NULL AND NEW.merged_into_id IS NOT NULL THEN
    -- the merged ticket's history moved to the survivor: so do its words
    PERFORM tessera_search_add(NEW.merged_into_id, s.public_doc, false),
            tessera_search_add(NEW.merged_into_id, s.all_doc, true)
       FROM ticket_search s WHERE s.ticket_id = NEW.id;
    UPDATE ticket_search SET overflow = true
     WHERE ticket_id = NEW.merged_into_id AND NOT overflow
       AND EXISTS (SELECT 1 FROM ticket_search o WHERE o.ticket_id = NEW.id AND o.overflow);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION tessera_search_attachment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tessera_search_add(x.ticket_id, NEW.search_vector, x.type = 'Comment')
     FROM transactions x WHERE x.id = NEW.transaction_id;
  RETURN NULL;
END $$;

-- The indexable part of a full-text query, phrases loosened to AND (the documents have no
-- positions): a ticket that can match the query has every word this asks for. A query with no
-- indexable part (only negations) asks for none: its prefilter is the negation of a lexeme
-- no document holds (one with a space), so every ticket is a candidate.
CREATE FUNCTION tessera_search_prefilter(q tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN t = 'T' THEN '!''no such word'''::tsquery
              WHEN t = '' THEN ''::tsquery
              ELSE (SELECT string_agg(CASE WHEN m[1] LIKE '<%' THEN ' & ' ELSE m[1] END, '' ORDER BY n)
                      FROM regexp_matches(t, '(''(?:[^'']|'''')*''(?::[*A-D]+)?|<[0-9]+>|<->|[^''<]+)', 'g')
                           WITH ORDINALITY AS r(m, n))::tsquery
         END
    FROM querytree(q) AS t
$$;
"""

TRIGGERS = """
CREATE TRIGGER tessera_search_ticket AFTER INSERT OR UPDATE OF subject, merged_into_id ON tickets
  FOR EACH ROW EXECUTE FUNCTION tessera_search_ticket();
CREATE TRIGGER tessera_search_attachment AFTER INSERT OR UPDATE OF content ON attachments
  FOR EACH ROW EXECUTE FUNCTION tessera_search_attachment();
"""

# Every ticket's words at once: the lexemes of its subject and parts, grouped per ticket and
# per document; a ticket whose words pass ~1 MB (counted with repeats: an upper bound) is marked
# overflow instead. Merged tickets' parts already sit on the survivor (their transactions moved).
BACKFILL = """
INSERT INTO ticket_search (ticket_id, public_doc, all_doc, overflow)
SELECT id,
       CASE WHEN all_bytes < 1000000 THEN array_to_tsvector(coalesce(pub, '{}')) ELSE ''::tsvector END,
       CASE WHEN all_bytes < 1000000 THEN array_to_tsvector(every) ELSE ''::tsvector END,
       all_bytes >= 1000000
  FROM (
    SELECT w.id,
           array_agg(DISTINCT w.lexeme) FILTER (WHERE NOT w.is_comment) AS pub,
           array_agg(DISTINCT w.lexeme) AS every,
           sum(octet_length(w.lexeme) + 4) AS all_bytes
      FROM (
        SELECT t.id, u.lexeme, false AS is_comment
          FROM tickets t, unnest(t.search_vector) AS u
        UNION ALL
        SELECT x.ticket_id, u.lexeme, x.type = 'Comment'
          FROM attachments a JOIN transactions x ON x.id = a.transaction_id, unnest(a.search_vector) AS u
      ) w
     GROUP BY w.id
  ) g
UNION ALL
SELECT t.id, ''::tsvector, ''::tsvector, false
  FROM tickets t
 WHERE length(t.search_vector) = 0
   AND NOT EXISTS (SELECT 1 FROM transactions x JOIN attachments a ON a.transaction_id = x.id
                    WHERE x.ticket_id = t.id AND length(a.search_vector) > 0)
"""


def upgrade() -> None:
    op.create_table(
        "ticket_search",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("public_doc", TSVECTOR(), server_default=sa.text("''::tsvector"), nullable=False),
        sa.Column("all_doc", TSVECTOR(), server_default=sa.text("''::tsvector"), nullable=False),
        sa.Column("overflow", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_search_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_search")),
    )
    op.execute(FUNCTIONS)
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute("SET LOCAL work_mem = '64MB'")
    op.execute(BACKFILL)
    op.create_index("ix_ticket_search_public_doc", "ticket_search", ["public_doc"], postgresql_using="gin")
    op.create_index("ix_ticket_search_all_doc", "ticket_search", ["all_doc"], postgresql_using="gin")
    op.create_index(
        "ix_ticket_search_overflow", "ticket_search", ["ticket_id"], postgresql_where=sa.text("overflow")
    )
    op.execute(TRIGGERS)
    op.execute("ANALYZE ticket_search")


def downgrade() -> None:
    op.execute("DROP TRIGGER tessera_search_attachment ON attachments")
    op.execute("DROP TRIGGER tessera_search_ticket ON tickets")
    op.drop_table("ticket_search")
    op.execute("DROP FUNCTION tessera_search_prefilter(tsquery)")
    op.execute("DROP FUNCTION tessera_search_attachment()")
    op.execute("DROP FUNCTION tessera_search_ticket()")
    op.execute("DROP FUNCTION tessera_search_add(bigint, tsvector, boolean)")
    op.execute("DROP FUNCTION tessera_search_fits(tsvector, tsvector)")
