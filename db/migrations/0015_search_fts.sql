-- Custom migration (drizzle-kit generate --custom): full-text search with
-- SQLite FTS5, which drizzle-kit cannot express (virtual tables, triggers).
-- Hand-written on purpose; server/search/ reads these tables.
--
-- The indexes are external-content FTS5 tables: the text is not stored twice.
-- Each reads its text from a view over the source table, and triggers on the
-- source tables keep the index in step with every write (they run in the
-- writing transaction, so they roll back with it, and no code path can forget
-- them). The triggers read the same view as the index, so what a delete
-- removes is exactly what the insert added.
--
-- Bounds: the first 16384 characters of each row's text are indexed (the
-- rest is still stored in the row, and in the log download). JSON keys, ids
-- (keys "id" and "…Id") and hashes are left out; streaming deltas
-- (model_delta: the model_message repeats them) and queue updates are not
-- indexed.
--
-- A later migration that rebuilds run_events, audit_events or doc_passages
-- (drizzle-kit's "__new_" copy) drops these triggers with the old table, and
-- its RENAME fails on the views: it must drop the views first and re-run
-- this file's statements after (server/search/fts.test.ts checks that every
-- trigger is in place).
CREATE VIEW search_run_event_text AS
SELECT e.id AS id,
  substr(coalesce((
    SELECT group_concat(j.value, ' ')
    FROM json_tree(CASE WHEN json_valid(e.payload) THEN e.payload ELSE '{}' END) j
    WHERE j.type = 'text' AND coalesce(j.key, '') NOT GLOB '*Id' AND coalesce(j.key, '') NOT IN ('id', 'hash', 'prevHash', 'commit')
  ), ''), 1, 16384) AS body
FROM run_events e
WHERE e.type NOT IN ('model_delta', 'queue');
--> statement-breakpoint
CREATE VIRTUAL TABLE search_run_events USING fts5(body, content='search_run_event_text', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
CREATE TRIGGER search_run_events_ai AFTER INSERT ON run_events BEGIN
  INSERT INTO search_run_events(rowid, body) SELECT id, body FROM search_run_event_text WHERE id = new.id;
END;
--> statement-breakpoint
CREATE TRIGGER search_run_events_bd BEFORE DELETE ON run_events BEGIN
  INSERT INTO search_run_events(search_run_events, rowid, body) SELECT 'delete', id, body FROM search_run_event_text WHERE id = old.id;
END;
--> statement-breakpoint
CREATE TRIGGER search_run_events_bu BEFORE UPDATE ON run_events BEGIN
  INSERT INTO search_run_events(search_run_events, rowid, body) SELECT 'delete', id, body FROM search_run_event_text WHERE id = old.id;
END;
--> statement-breakpoint
CREATE TRIGGER search_run_events_au AFTER UPDATE ON run_events BEGIN
  INSERT INTO search_run_events(rowid, body) SELECT id, body FROM search_run_event_text WHERE id = new.id;
END;
--> statement-breakpoint
-- Backfill (FTS5's 'rebuild' cannot read a view that calls json_tree).
INSERT INTO search_run_events(rowid, body) SELECT id, body FROM search_run_event_text;
--> statement-breakpoint
CREATE VIEW search_audit_text AS
SELECT a.seq AS seq,
  substr(a.action || ' ' || a.actor_label || ' ' || coalesce(a.target_type, '') || ' ' || coalesce(a.target_id, '') || ' ' || coalesce((
    SELECT group_concat(j.value, ' ')
    FROM json_tree(CASE WHEN json_valid(a.details) THEN a.details ELSE '{}' END) j
    WHERE j.type = 'text' AND coalesce(j.key, '') NOT GLOB '*Id' AND coalesce(j.key, '') NOT IN ('id', 'hash', 'prevHash', 'commit')
  ), ''), 1, 16384) AS body
FROM audit_events a;
--> statement-breakpoint
CREATE VIRTUAL TABLE search_audit USING fts5(body, content='search_audit_text', content_rowid='seq', tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
CREATE TRIGGER search_audit_ai AFTER INSERT ON audit_events BEGIN
  INSERT INTO search_audit(rowid, body) SELECT seq, body FROM search_audit_text WHERE seq = new.seq;
END;
--> statement-breakpoint
CREATE TRIGGER search_audit_bd BEFORE DELETE ON audit_events BEGIN
  INSERT INTO search_audit(search_audit, rowid, body) SELECT 'delete', seq, body FROM search_audit_text WHERE seq = old.seq;
END;
--> statement-breakpoint
CREATE TRIGGER search_audit_bu BEFORE UPDATE ON audit_events BEGIN
  INSERT INTO search_audit(search_audit, rowid, body) SELECT 'delete', seq, body FROM search_audit_text WHERE seq = old.seq;
END;
--> statement-breakpoint
CREATE TRIGGER search_audit_au AFTER UPDATE ON audit_events BEGIN
  INSERT INTO search_audit(rowid, body) SELECT seq, body FROM search_audit_text WHERE seq = new.seq;
END;
--> statement-breakpoint
INSERT INTO search_audit(rowid, body) SELECT seq, body FROM search_audit_text;
--> statement-breakpoint
CREATE VIRTUAL TABLE search_doc_passages USING fts5(text, content='doc_passages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
CREATE TRIGGER search_doc_passages_ai AFTER INSERT ON doc_passages BEGIN
  INSERT INTO search_doc_passages(rowid, text) VALUES (new.id, new.text);
END;
--> statement-breakpoint
CREATE TRIGGER search_doc_passages_ad AFTER DELETE ON doc_passages BEGIN
  INSERT INTO search_doc_passages(search_doc_passages, rowid, text) VALUES ('delete', old.id, old.text);
END;
--> statement-breakpoint
CREATE TRIGGER search_doc_passages_au AFTER UPDATE ON doc_passages BEGIN
  INSERT INTO search_doc_passages(search_doc_passages, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO search_doc_passages(rowid, text) VALUES (new.id, new.text);
END;
