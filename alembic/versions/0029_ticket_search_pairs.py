"""ticket_search pairs: each document also holds the adjacent word pairs of its subject and of
each message part ('printer network' for "printer network" within one part), so a phrase's
candidates are the tickets that have its pairs, and a two-word phrase is decided by the document

A pair is taken from one tsvector's stored positions (a word at p, the next at p + 1), the very
positions the exact per-part match (`@@` with `<->`) reads, so a part that matches a phrase has
every pair of it: no phrase is missed, however long the part (positions clamped at 16383, or
past 256 of a word, are clamped or dropped for both alike). Pairs never span two parts or a
subject and a part. A query's pairs are asked for only where the query's own shape makes them
necessary (`tessera_search_prefilter`): adjacent plain words of a phrase, and no negation inside
a phrase; anything else is loosened to AND as before. Pairs longer than 2,000 bytes are neither
stored nor asked for.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 06:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A lexeme as the tsquery/tsvector text quotes it ('' and \\ escaped), a phrase of plain lexemes,
# and a query of the shapes websearch_to_tsquery writes where no negation sits inside a phrase.
LEX = r"'(?:[^'\\]|''|\\.)*'"
CHAIN = rf"{LEX}(?: <(?:-|[0-9]+)> {LEX})*"
OPERAND = rf"(?:{CHAIN}|!{LEX}|!\( {CHAIN} \))"
SHAPE = rf"^{OPERAND}(?: [&|] {OPERAND})*$"
# The same as SQL string literals' contents (quotes doubled).
LEX_SQL, SHAPE_SQL = LEX.replace("'", "''"), SHAPE.replace("'", "''")

FUNCTIONS = rf"""
-- The pair of two adjacent words as a document holds it (NULL: too long to hold).
CREATE FUNCTION tessera_search_pair(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN octet_length(a) + octet_length(b) <= 2000 THEN a || ' ' || b END
$$;

-- The terms a tsvector adds to a document: its words and the pairs of words at adjacent
-- positions (none when it is stripped); one sort of its positions, however long it is.
CREATE FUNCTION tessera_search_terms(v tsvector) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT u.lexeme FROM unnest(v) AS u
  UNION
  SELECT tessera_search_pair(a, b)
    FROM (SELECT p, words, lead(p) OVER w AS next_p, lead(words) OVER w AS next_words
            FROM (SELECT p, array_agg(u.lexeme) AS words
                    FROM unnest(v) AS u, unnest(u.positions) AS p GROUP BY p) AS at
          WINDOW w AS (ORDER BY p)) AS s,
         unnest(words) AS a, unnest(next_words) AS b
   WHERE next_p = p + 1 AND tessera_search_pair(a, b) IS NOT NULL
$$;

-- A tsvector's terms as a stripped tsvector; NULL when they would pass ~1 MB (a long part's
-- pairs can: the caller then marks the ticket overflow rather than fail the write).
CREATE FUNCTION tessera_search_words(v tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN count(*) = 0 THEN ''::tsvector
              WHEN sum(octet_length(t) + 8) < 1000000 THEN array_to_tsvector(array_agg(t)) END
    FROM tessera_search_terms(coalesce(v, ''::tsvector)) AS t
$$;

CREATE OR REPLACE FUNCTION tessera_search_add(ticket bigint, words tsvector, is_comment boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  words := tessera_search_words(words);
  IF words IS NULL THEN
    INSERT INTO ticket_search AS s (ticket_id, overflow) VALUES (ticket, true)
    ON CONFLICT (ticket_id) DO UPDATE SET public_doc = '', all_doc = '', overflow = true;
    RETURN;
  END IF;
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

CREATE OR REPLACE FUNCTION tessera_search_rebuild(ticket bigint) RETURNS void LANGUAGE plpgsql AS $$
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
    FROM (SELECT u AS lexeme, false AS is_comment
            FROM tickets t, tessera_search_terms(t.search_vector) AS u WHERE t.id = ticket
          UNION ALL
          SELECT u, x.type = 'Comment'
            FROM transactions x JOIN attachments a ON a.transaction_id = x.id,
                 tessera_search_terms(a.search_vector) AS u
           WHERE x.ticket_id = ticket) w;
  SELECT coalesce(sum(octet_length(l) + 4), 0) INTO size FROM unnest(every) AS l;
  IF size >= 1000000 THEN
    pub := '{{}}';
    every := '{{}}';
  END IF;
  INSERT INTO ticket_search AS s (ticket_id, public_doc, all_doc, overflow)
  VALUES (ticket, array_to_tsvector(coalesce(pub, '{{}}')), array_to_tsvector(coalesce(every, '{{}}')),
          size >= 1000000)
  ON CONFLICT (ticket_id) DO UPDATE
    SET public_doc = EXCLUDED.public_doc, all_doc = EXCLUDED.all_doc, overflow = EXCLUDED.overflow;
END $$;

CREATE OR REPLACE FUNCTION tessera_search_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ticket_search (ticket_id, public_doc, all_doc, overflow)
      SELECT NEW.id, coalesce(w, ''), coalesce(w, ''), w IS NULL
        FROM tessera_search_words(NEW.search_vector) AS w
      ON CONFLICT (ticket_id) DO NOTHING;
  ELSIF NEW.subject IS DISTINCT FROM OLD.subject THEN
    PERFORM tessera_search_rebuild(NEW.id);
  END IF;
  RETURN NULL;
END $$;

-- The indexable part of a full-text query as the documents can check it: phrases loosened to
-- AND, plus the pair of each two plain words a phrase holds adjacent (`<->`) when the query has
-- the shape websearch_to_tsquery writes with no negation inside a phrase (querytree drops a
-- negation, and `a <-> !c <-> b` would come out as `a <-> b`). A query with no indexable part
-- (only negations) asks for none: its prefilter is the negation of a lexeme no document holds.
CREATE OR REPLACE FUNCTION tessera_search_prefilter(q tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN t = 'T' THEN '!''no such word'''::tsquery
              WHEN t = '' THEN ''::tsquery
              ELSE (SELECT string_agg(
                             CASE WHEN tok !~ '^ ?<' THEN tok
                                  WHEN pair IS NOT NULL THEN ' & ' || array_to_tsvector(ARRAY[pair])::text || ' & '
                                  ELSE ' & ' END, '' ORDER BY n)
                      FROM (SELECT tok, n, CASE WHEN tok ~ '^ ?<-> ?$' AND paired AND prev ~ '^{LEX_SQL}$'
                                                     AND next ~ '^{LEX_SQL}$'
                                                THEN tessera_search_pair((SELECT lexeme FROM unnest(prev::tsvector)),
                                                                         (SELECT lexeme FROM unnest(next::tsvector)))
                                           END AS pair
                              FROM (SELECT m[1] AS tok, n, lag(m[1]) OVER w AS prev, lead(m[1]) OVER w AS next
                                      FROM regexp_matches(t, '({LEX_SQL}(?::[*A-D]+)?| ?<[0-9]+> ?| ?<-> ?|[^''<]+)', 'g')
                                           WITH ORDINALITY AS r(m, n)
                                    WINDOW w AS (ORDER BY n)) o) s)::tsquery
         END
    FROM querytree(q) AS t, (SELECT q::text ~ '{SHAPE_SQL}' AS paired) AS shape
$$;

-- True when the documents alone decide the query: one word, or words joined by `or`, or two
-- words adjacent in a phrase whose pair the document can hold (a pair is held only from one part
-- or the subject, where the phrase then matches).
CREATE OR REPLACE FUNCTION tessera_search_doc_decides(q tsquery) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT q::text ~ '^{LEX_SQL}(?: \| {LEX_SQL})*$'
      OR (q::text ~ '^{LEX_SQL} <-> {LEX_SQL}$' AND numnode(tessera_search_prefilter(q)) = 5)
$$;
"""

# Every ticket's documents again, with pairs: 0028's rebuild over each subject's and part's
# words, and their pairs found by one sort of all positions (set at a time: calling
# tessera_search_terms per part costs more than the rest together).
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
        UNION ALL
        SELECT s.id, tessera_search_pair(s.lexeme, b), s.is_comment
          FROM (SELECT o.id, o.is_comment, o.lexeme,
                       array_agg(o.lexeme) OVER (PARTITION BY o.part ORDER BY o.p
                                                 RANGE BETWEEN 1 FOLLOWING AND 1 FOLLOWING) AS nexts
                  FROM (SELECT t.id, -t.id AS part, false AS is_comment, u.lexeme, p
                          FROM tickets t, unnest(t.search_vector) AS u, unnest(u.positions) AS p
                        UNION ALL
                        SELECT x.ticket_id, a.id, x.type = 'Comment', u.lexeme, p
                          FROM attachments a JOIN transactions x ON x.id = a.transaction_id,
                               unnest(a.search_vector) AS u, unnest(u.positions) AS p) o) s,
               unnest(s.nexts) AS b
         WHERE tessera_search_pair(s.lexeme, b) IS NOT NULL
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


# 0028's functions (words only), for the downgrade.
WORDS_ONLY = r"""
CREATE OR REPLACE FUNCTION tessera_search_add(ticket bigint, words tsvector, is_comment boolean)
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

CREATE OR REPLACE FUNCTION tessera_search_rebuild(ticket bigint) RETURNS void LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION tessera_search_prefilter(q tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN t = 'T' THEN '!''no such word'''::tsquery
              WHEN t = '' THEN ''::tsquery
              ELSE (SELECT string_agg(CASE WHEN m[1] LIKE '<%' THEN ' & ' ELSE m[1] END, '' ORDER BY n)
                      FROM regexp_matches(t, '(''(?:[^'']|'''')*''(?::[*A-D]+)?|<[0-9]+>|<->|[^''<]+)', 'g')
                           WITH ORDINALITY AS r(m, n))::tsquery
         END
    FROM querytree(q) AS t
$$;

CREATE OR REPLACE FUNCTION tessera_search_doc_decides(q tsquery) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT q::text ~ '^''(?:[^'']|'''')*''(?: \| ''(?:[^'']|'''')*'')*$'
$$;

DROP FUNCTION tessera_search_words(tsvector);
DROP FUNCTION tessera_search_terms(tsvector);
DROP FUNCTION tessera_search_pair(text, text);
"""

# Documents without pairs (0028's backfill): each subject's and part's words.
WORDS_BACKFILL = """
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


def _rebuild_all(backfill: str) -> None:
    if not op.get_bind().exec_driver_sql("SELECT EXISTS (SELECT 1 FROM tickets)").scalar():
        return
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute("SET LOCAL work_mem = '64MB'")
    op.execute("DROP INDEX ix_ticket_search_public_doc")
    op.execute("DROP INDEX ix_ticket_search_all_doc")
    op.execute("TRUNCATE ticket_search")  # (a DELETE left every old row behind: 1.3 GB, not 1 GB, at 1M)
    op.execute(backfill)
    op.execute("CREATE INDEX ix_ticket_search_public_doc ON ticket_search USING gin (public_doc)")
    op.execute("CREATE INDEX ix_ticket_search_all_doc ON ticket_search USING gin (all_doc)")
    op.execute("ANALYZE ticket_search")


def upgrade() -> None:
    op.execute(FUNCTIONS)
    _rebuild_all(BACKFILL)  # every document again, with its pairs


def downgrade() -> None:
    op.execute(WORDS_ONLY)
    _rebuild_all(WORDS_BACKFILL)
