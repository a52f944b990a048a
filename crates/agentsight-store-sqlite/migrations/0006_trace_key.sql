-- 0006: the trace index keyed by a 60-bit integer instead of the 32-character trace id. The
-- exporter's trace ids are random, so each new trace's entry lands on a page of its own somewhere
-- in the index; the smaller the entries, the longer the index stays in the writer's page cache
-- (docs/benchmarks.md §4, "Random trace ids"). `trace_key` is the trace id's first 15 hex digits
-- (right-padded with zeros) as an integer; lookups compare it and then the trace id itself, so two
-- ids sharing a key are still told apart. The writer computes it (agentsight-store-sqlite's
-- `spans::trace_key`); the spans already stored get it from the same digits here (a character
-- that is not a lowercase hex digit counts as 0 in both; the ids stored are lowercase hex).

ALTER TABLE spans ADD COLUMN trace_key INTEGER NOT NULL DEFAULT 0;
UPDATE spans SET trace_key =
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 1, 1)) - 1, 0) << 56) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 2, 1)) - 1, 0) << 52) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 3, 1)) - 1, 0) << 48) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 4, 1)) - 1, 0) << 44) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 5, 1)) - 1, 0) << 40) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 6, 1)) - 1, 0) << 36) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 7, 1)) - 1, 0) << 32) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 8, 1)) - 1, 0) << 28) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 9, 1)) - 1, 0) << 24) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 10, 1)) - 1, 0) << 20) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 11, 1)) - 1, 0) << 16) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 12, 1)) - 1, 0) << 12) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 13, 1)) - 1, 0) << 8) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 14, 1)) - 1, 0) << 4) |
    (max(instr('0123456789abcdef', substr(trace_id || '000000000000000', 15, 1)) - 1, 0) << 0);
DROP INDEX spans_agent_trace;
CREATE INDEX spans_agent_trace_key ON spans (agent_id, trace_key);
