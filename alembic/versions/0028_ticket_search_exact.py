"""ticket_search exact: a ticket's documents hold exactly the words of its current subject and of
the message parts now on it (all_doc; public_doc without comments), instead of every word it ever
had; rebuilt for the ticket when its subject changes, when transactions move to or from it (a
merge) or change type, and when a part's text changes or a part goes; every document rebuilt here

A one-word query (or words joined by `or`) then matches a ticket exactly when its document does,
so such a search needs no per-part check on its candidates: a rare word's page is the index
lookup and the sort (at a million tickets a rare word had ~1,500 candidates, each read again).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 03:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = r"""
-- The ticket's documents from its current subject and the parts now on it; past ~1 MB of distinct
-- words, empty and marked overflow (the ticket is then always a candidate, checked part by part).
CREATE FUNCTION tessera_search_rebuild(ticket bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  pub text[];
  every text[];
  size bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM tickets WHERE id = ticket) THEN
    RETURN;
  END IF;
  SELECT array_agg(DISTINCT w.lexeme) FILTER (WHERE NOT w.is_comment), array_agg(DISTINCT w.lexeme)
    INTO pub, every
    FROM (SELECT u.lexeme, false AS is_comment
            FROM tickets t, unnest(t.search_vector) AS u WHERE t.id = ticket
          UNION ALL
          SELECT u.lexeme, x.type = 'Comment'
            FROM transactions x JOIN attachments a ON a.transaction_id = x.id, unnest(a.search_vector) AS u
           WHERE x.ticket_id = ticket) w;
  SELECT coalesce(sum(octet_length(l) + 4), 0) INTO size FROM unnest(every) AS l;
  IF size >= 1000000 THEN
    pub := '{}';
    every := '{}';
  END IF;
  INSERT INTO ticket_search AS s (ticket_id, public_doc, all_doc, overflow)
  VALUES (ticket, array_to_tsvector(coalesce(pub, '{}')), array_to_tsvector(coalesce(every, '{}')),
          size >= 1000000)
  ON CONFLICT (ticket_id) DO UPDATE
    SET public_doc = EXCLUDED.public_doc, all_doc = EXCLUDED.all_doc, overflow = EXCLUDED.overflow;
END $$;

CREATE OR REPLACE FUNCTION tessera_search_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ticket_search (ticket_id, public_doc, all_doc)
      VALUES (NEW.id, strip(NEW.search_vector), strip(NEW.search_vector))
      ON CONFLICT (ticket_id) DO NOTHING;
  ELSIF NEW.subject IS DISTINCT FROM OLD.subject THEN
    PERFORM tessera_search_rebuild(NEW.id);
  END IF;
  RETURN NULL;
END $$;

-- A part's text changed or moved, or a part went: its ticket's documents again.
CREATE FUNCTION tessera_search_part_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.content IS NOT DISTINCT FROM OLD.content AND NEW.transaction_id = OLD.transaction_id THEN
      RETURN NULL;
    END IF;
    PERFORM tessera_search_rebuild(x.ticket_id) FROM transactions x WHERE x.id = NEW.transaction_id;
  END IF;
  PERFORM tessera_search_rebuild(x.ticket_id) FROM transactions x WHERE x.id = OLD.transaction_id;
  RETURN NULL;
END $$;

-- Transactions that moved to another ticket (a merge) or changed type: both tickets, once each.
CREATE FUNCTION tessera_search_transactions_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tessera_search_rebuild(moved.ticket_id)
     FROM (SELECT o.ticket_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.ticket_id <> o.ticket_id OR n.type <> o.type
           UNION
           SELECT n.ticket_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.ticket_id <> o.ticket_id OR n.type <> o.type) AS moved;
  RETURN NULL;
END $$;

-- True when the documents alone decide the query: one word, or words joined by `or` (no `and`,
-- phrase or negation, which need the words within one part).
CREATE FUNCTION tessera_search_doc_decides(q tsquery) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT q::text ~ '^''(?:[^'']|'''')*''(?: \| ''(?:[^'']|'''')*'')*$'
$$;
"""

TRIGGERS = """
DROP TRIGGER tessera_search_ticket ON tickets;
CREATE TRIGGER tessera_search_ticket AFTER INSERT OR UPDATE OF subject ON tickets
  FOR EACH ROW EXECUTE FUNCTION tessera_search_ticket();
DROP TRIGGER tessera_search_attachment ON attachments;
CREATE TRIGGER tessera_search_attachment AFTER INSERT ON attachments
  FOR EACH ROW EXECUTE FUNCTION tessera_search_attachment();
CREATE TRIGGER tessera_search_part_changed AFTER UPDATE OF content, transaction_id OR DELETE ON attachments
  FOR EACH ROW EXECUTE FUNCTION tessera_search_part_changed();
CREATE TRIGGER tessera_search_transactions_moved AFTER UPDATE ON transactions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tessera_search_transactions_moved();
"""

# As 0027's, over the current subjects and parts: documents that gathered words a ticket no
# longer has (an old subject, a merged ticket's subject) are made exact.
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
    op.execute(FUNCTIONS)
    op.execute(TRIGGERS)
    # Documents built before this revision may hold words their tickets no longer have.
    if op.get_bind().exec_driver_sql("SELECT EXISTS (SELECT 1 FROM tickets)").scalar():
        op.execute("SET LOCAL maintenance_work_mem = '256MB'")
        op.execute("SET LOCAL work_mem = '64MB'")
        op.execute("DROP INDEX ix_ticket_search_public_doc")
        op.execute("DROP INDEX ix_ticket_search_all_doc")
        op.execute("DELETE FROM ticket_search")
        op.execute(BACKFILL)
        op.execute("CREATE INDEX ix_ticket_search_public_doc ON ticket_search USING gin (public_doc)")
        op.execute("CREATE INDEX ix_ticket_search_all_doc ON ticket_search USING gin (all_doc)")
        op.execute("ANALYZE ticket_search")


def downgrade() -> None:
    op.execute("DROP TRIGGER tessera_search_transactions_moved ON transactions")
    op.execute("DROP TRIGGER tessera_search_part_changed ON attachments")
    op.execute("DROP TRIGGER tessera_search_ticket ON tickets")
    op.execute(
        "CREATE TRIGGER tessera_search_ticket AFTER INSERT OR UPDATE OF subject, merged_into_id ON tickets"
        " FOR EACH ROW EXECUTE FUNCTION tessera_search_ticket()"
    )
    op.execute(
        """
CREATE OR REPLACE FUNCTION tessera_search_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ticket_search (ticket_id, public_doc, all_doc)
      VALUES (NEW.id, strip(NEW.search_vector), strip(NEW.search_vector))
      ON CONFLICT (ticket_id) DO NOTHING;
  ELSIF NEW.subject IS DISTINCT FROM OLD.subject THEN
    PERFORM tessera_search_add(NEW.id, NEW.search_vector, false);
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.merged_into_id IS NULL AND NEW.merged_into_id IS NOT NULL THEN
    PERFORM tessera_search_add(NEW.merged_into_id, s.public_doc, false),
            tessera_search_add(NEW.merged_into_id, s.all_doc, true)
       FROM ticket_search s WHERE s.ticket_id = NEW.id;
    UPDATE ticket_search SET overflow = true
     WHERE ticket_id = NEW.merged_into_id AND NOT overflow
       AND EXISTS (SELECT 1 FROM ticket_search o WHERE o.ticket_id = NEW.id AND o.overflow);
  END IF;
  RETURN NULL;
END $$"""
    )
    op.execute("DROP FUNCTION tessera_search_doc_decides(tsquery)")
    op.execute("DROP FUNCTION tessera_search_transactions_moved()")
    op.execute("DROP FUNCTION tessera_search_part_changed()")
    op.execute("DROP FUNCTION tessera_search_rebuild(bigint)")
